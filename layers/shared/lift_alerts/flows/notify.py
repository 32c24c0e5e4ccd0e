"""Tell the people in the loop (SPEC §10): acknowledgements, outcome notices, critical messages.

Reactions of the follow-up function (`follow_up.REACTIONS`) to what one write changed on an
alert, so none of them sits in the webhook's answer path: the tap is recorded and published
before any of this runs, and nothing here can undo or delay that. Each message goes once
per ledger key (`follow_up_sends.send_once`):
- `acks.<tap event_id>`: the acknowledgement of a recorded tap, to the person who tapped;
- `notices.<outcome>:<phone>`: who answered, to everyone else messaged for the alert, on the
  first answer and whenever the outcome rises;
- `notices.critical:<phone>`: the critical message when the alert becomes unanswered.
A send Woosh failed for now raises after what succeeded is recorded (Lambda retries the
stream record); a final failure is recorded on the ledger entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lift_alerts.domain.alert_facts import StoredAlert, messaged
from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.choices import most_severe
from lift_alerts.domain.contents import NoticeContent
from lift_alerts.domain.wording import Answer, ack_text, critical_text, outcome_notice_text
from lift_alerts.flows.follow_up_sends import FollowUpContext, send_once
from lift_alerts.platform.observability import count, logger


def send_notice(
    ctx: FollowUpContext, alert: AlertItem, ledger: str, targets: dict[str, str], content: NoticeContent
) -> int:
    if ledger not in alert:
        # An alert created before this feature has no ledger to record in: nothing is sent
        # (sending unrecorded would repeat on every retry of the record).
        logger.info("alert has no follow-up ledger", extra={"ledger": ledger, "alert_id": alert["alert_id"]})
        count("NoticeLedgerMissing")
        return 0
    sent = send_once(
        ctx,
        str(alert["alert_id"]),
        ledger=ledger,
        targets=targets,
        content=content,
        details={"text": content.text},
        retry_transient=True,
    )
    return sum(1 for delivery in sent.values() if delivery.result.accepted)


def acknowledge_taps(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """Each tap this write recorded: a text to the person who tapped, once per tap id."""
    responses: list[dict[str, Any]] = new.get("responses", [])
    facts = StoredAlert.of(new)
    done = []
    for index in range(len(old.get("responses", [])), len(responses)):
        response = responses[index]
        tap = Answer.of(response)
        if not tap.wa_id:
            # A business-scoped user id and no phone: WhatsApp gives no number to write to.
            logger.info("tap not acknowledged: no phone number", extra={"tap_id": response.get("event_id")})
            count("AckUnreachable")
            continue
        text = ack_text(
            facts,
            tap,
            first=Answer.of(responses[0]) if index > 0 else None,
            outcome=most_severe(str(r.get("choice")) for r in responses[: index + 1]),
            closed=bool(new.get("closed_at")),
            unanswered_at=new.get("unanswered_at"),
            timezone=ctx.settings.display_timezone,
        )
        content = NoticeContent(ctx.settings, text, kind="ack", text_only=True)
        sent = send_notice(ctx, new, "acks", {tap.wa_id: str(response["event_id"])}, content)
        done.append(f"ack:{response['event_id']}:{sent}")
    return done


def tell_outcome(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """The first answer, or an answer that raised the outcome: a notice to everyone else messaged."""
    before = most_severe(str(r.get("choice")) for r in old.get("responses", []))
    responses: list[dict[str, Any]] = new.get("responses", [])
    after = most_severe(str(r.get("choice")) for r in responses)
    if after is None or after == before:
        return []
    added = responses[len(old.get("responses", [])) :]
    # The answer that brought the outcome to its new level (this write added it).
    raiser = next((r for r in added if r.get("choice") == after), added[-1] if added else responses[-1])
    answer = Answer.of(raiser)
    text = outcome_notice_text(
        StoredAlert.of(new), answer, rose_from=before, timezone=ctx.settings.display_timezone
    )
    # Nobody gets a notice about their own tap: they get its acknowledgement.
    targets = {to: f"{after}:{to}" for to in messaged(new) if to != answer.wa_id}
    if not targets:
        return []
    sent = send_notice(ctx, new, "notices", targets, NoticeContent(ctx.settings, text))
    return [f"notice:{after}:{sent}"]


def critical_when_unanswered(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """The alert became unanswered (SPEC §9): a critical message to everyone messaged."""
    if not new.get("unanswered_at") or old.get("unanswered_at"):
        return []
    text = critical_text(StoredAlert.of(new), int(new.get("rounds_sent", 0)))
    targets = {to: f"critical:{to}" for to in messaged(new)}
    if not targets:
        return []
    sent = send_notice(ctx, new, "notices", targets, NoticeContent(ctx.settings, text, kind="critical"))
    return [f"critical:{sent}"]


NOTICE_REACTIONS: tuple[Callable[[FollowUpContext, AlertItem, AlertItem], list[str]], ...] = (
    acknowledge_taps,
    tell_outcome,
    critical_when_unanswered,
)
