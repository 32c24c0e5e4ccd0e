"""Entrapment confirmation (SPEC §10): follow an entrapment until someone confirms, with YES,
that the service provider was called.

Steps of one alert's confirmation, numbered like escalation rounds: step 0 is the request
(sent by the follow-up function as soon as the outcome first becomes `entrapment`), steps
1..N the reminders `REMINDER n/N` (N = CONFIRM_MAX_ROUNDS), step N+1 the "missed" mark.
Step s is due `s x CONFIRM_AFTER_SECONDS` after the request. The timer finds due steps
through ConfirmDueIndex (`confirm_shard`/`confirm_due_at`: a tap removes `due_*`, never
these) and, exactly like escalation (§9), claims each step with a conditional write before
anything is sent, records each send right after it, and lets a run that crashed half way be
taken over once its lease ran out: the new run sends only to those not yet recorded.

The first YES (recorded by the webhook, updates.record_yes) closes the alert and removes the
index key; what it and the missed mark mean for people is sent here, from the table's
stream, once per person (follow-up ledgers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from lift_alerts.channels import Channel
from lift_alerts.choices import CONFIRM_LABEL, Choice, confirm_button_id
from lift_alerts.clock import epoch, iso, iso_from_epoch
from lift_alerts.config import Settings
from lift_alerts.dispatch import SendQueue, enqueuer
from lift_alerts.escalation import LEASE_SECONDS, ROUND_SEND_SECONDS, Timer, TimerReport, TimerRun
from lift_alerts.followup import FollowUpContext, send_once
from lift_alerts.observability import count, logger
from lift_alerts.outbound import buttons_body, text_body, text_template_body
from lift_alerts.sending import Delivery, RoundContent, deliveries_recorded, send_messages
from lift_alerts.stored import AlertItem, Failure, MessageRef, StoredAlert, outcome, people_messaged
from lift_alerts.table import Written
from lift_alerts.texts import (
    confirmation_missed_notice,
    confirmation_question,
    later_yes_ack,
    person_name,
    provider_confirmed_notice,
)

# Alert maps (created with the alert): each confirmation send of a claimed step, written
# right after it; the notices about the outcome, one per person; acknowledgements by tap id
# (shared with the acknowledgements of classification taps: a tap id is never both).
SENDS: Final = "confirm_sends"
NOTICES: Final = "confirmation_notices"
ACKS: Final = "acks"

StepKind = Literal["request", "reminder", "missed"]


# ---------------------------------------------------------------- rules (pure)


def step_kind(step: int, max_rounds: int) -> StepKind:
    if step == 0:
        return "request"
    return "reminder" if step <= max_rounds else "missed"


def step_due_at(requested_epoch: int, step: int, after_seconds: int) -> int:
    """Step s is due s waits after the request: reminders at 1..N waits, missed one wait later."""
    return requested_epoch + step * after_seconds


def became_entrapment(old: AlertItem, new: AlertItem) -> bool:
    entrapment = Choice.ENTRAPMENT.value
    return outcome(old.get("responses", [])) != entrapment and outcome(new.get("responses", [])) == entrapment


# ---------------------------------------------------------------- what is sent


@dataclass(frozen=True)
class ConfirmContent(RoundContent):
    """The YES question (step 0) or its reminder: one reply button YES, or CONFIRM_TEMPLATE_NAME
    outside the 24-hour window (one body variable, one quick reply YES); without that
    template a person outside the window is skipped and counted."""

    kinds: ClassVar[tuple[str, str]] = ("confirm_request", "confirm_reminder")

    @property
    def outside(self) -> Channel | None:
        return "template" if self.settings.confirm_template_name else None

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        text = confirmation_question(self.facts, reminder=self.reminder)
        button = confirm_button_id(self.alert_id)
        if channel != "template":
            return buttons_body(to, text, [(button, CONFIRM_LABEL)])
        if not self.settings.confirm_template_name:
            return None
        yes = {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": button}],
        }
        return text_template_body(
            to,
            name=self.settings.confirm_template_name,
            language=self.settings.template_language,
            text=text,
            buttons=(yes,),
        )


@dataclass(frozen=True)
class TextNotice:
    """A plain text inside the window; NOTICE_TEMPLATE_NAME (one body variable) outside it,
    or skipped and counted without that template."""

    kind: str
    text: str
    template_name: str | None
    language: str

    @property
    def inside(self) -> Channel:
        return "text"

    @property
    def outside(self) -> Channel | None:
        return "template" if self.template_name else None

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        if channel != "template":
            return text_body(to, self.text)
        if not self.template_name:
            return None
        return text_template_body(to, name=self.template_name, language=self.language, text=self.text)


def _notice(settings: Settings, kind: str, text: str) -> TextNotice:
    return TextNotice(kind, text, settings.notice_template_name, settings.template_language)


# ---------------------------------------------------------------- the timer


def confirmation_step(alert_id: str, run: TimerRun) -> None:
    """Claim the alert's next confirmation step and do it (send, or mark missed)."""
    repo, now, report = run.repo, run.now, run.report
    alert = run.due_alert(alert_id, over=_confirmation_over, clear=repo.clear_confirmation_due)
    if alert is None:
        return
    confirmation = alert["confirmation"]
    step = int(confirmation.get("steps_done", 0))
    max_rounds = int(confirmation["max_rounds"])
    claimed = repo.claim_confirmation_step(
        alert_id, step=step, now=epoch(now), lease_until=epoch(now) + LEASE_SECONDS
    )
    if not isinstance(claimed, Written):
        report.skipped += 1
        return
    if step_kind(step, max_rounds) == "missed":
        if isinstance(repo.mark_confirmation_missed(alert_id, at=iso(now), step=step), Written):
            logger.warning(
                "entrapment confirmation missed", extra={"alert_id": alert_id, "rounds": max_rounds}
            )
            report.confirmations_missed.append(alert_id)
        return
    _send_step(alert, step, max_rounds, run)
    report.confirmation_rounds.append(f"{alert_id}:confirm:{step}")


def _confirmation_over(alert: AlertItem) -> bool:
    """No step is due: no confirmation was asked, or it was confirmed, missed or closed."""
    confirmation = alert.get("confirmation") or {}
    return not confirmation or bool(
        confirmation.get("confirmed_at") or confirmation.get("missed_at") or alert.get("closed_at")
    )


# Every due confirmation step, found through ConfirmDueIndex.
CONFIRMATIONS = Timer(
    "confirmation",
    "ConfirmationStepError",
    lambda repo, now: repo.confirmation_due_ids(now),
    confirmation_step,
)
run_confirmations = CONFIRMATIONS.run


def _send_step(alert: AlertItem, step: int, max_rounds: int, run: TimerRun) -> None:
    repo, woosh, settings, now = run.repo, run.woosh, run.settings, run.now
    alert_id = str(alert["alert_id"])
    confirmation = alert["confirmation"]

    def remember(delivery: Delivery) -> None:
        repo.record_sent(alert_id, SENDS, step, delivery.to, delivery.record())

    content = ConfirmContent(settings, StoredAlert.of(alert), alert_id, (step, max_rounds) if step else None)
    people = people_messaged(alert)
    deliveries = send_messages(
        repo,
        woosh(),
        settings,
        alert_id=alert_id,
        content=content,
        recipients=people,
        round_no=None,
        now=now,
        deadline=time.monotonic() + ROUND_SEND_SECONDS,
        on_sent=remember,
        done=deliveries_recorded(alert.get(SENDS, {}), step),
        # No send slot in time: the question waits in the send queue (SPEC §11); the step is
        # complete, the dispatcher records the send in `confirm_sends` and its mapping.
        enqueue=enqueuer(
            SendQueue(repo.table_name),
            alert,
            round_no=step,
            kind=content.kind,
            order=people,
            settings=settings,
            ledger=SENDS,
            keys={to: f"{step}:{to}" for to in people},
        ),
    )
    messages, failures = step_records(alert_id, step, content.kind, deliveries)
    skipped = [d.to for d in deliveries if d.skipped]
    next_due = step_due_at(int(confirmation["requested_epoch"]), step + 1, int(confirmation["after_seconds"]))
    repo.record_confirmation_step(
        alert_id,
        step=step,
        messages=messages,
        failures=failures,
        skipped=skipped,
        next_due_at=next_due,
        next_due_iso=iso_from_epoch(next_due),
    )
    if skipped:
        count("NoticeSkipped", len(skipped))
    count("ConfirmationRoundSent")
    logger.info(
        "confirmation round sent",
        extra={"alert_id": alert_id, "step": step, "recipients": len(deliveries), "skipped": len(skipped)},
    )


def step_records(
    alert_id: str, step: int, kind: str, deliveries: list[Delivery]
) -> tuple[dict[str, MessageRef], dict[str, Failure]]:
    """The message mappings (taps on them match by context) and the delivery failures (each
    published once as "Alert Delivery Failed") one confirmation step adds to its alert.

    Failures carry no escalation `round`: a confirmation message never makes an escalation
    round "all deliveries failed".
    """
    messages: dict[str, MessageRef] = {}
    failures: dict[str, Failure] = {}
    for delivery in deliveries:
        if delivery.skipped or delivery.queued:
            continue  # a queued question is recorded by the dispatcher once it is sent
        to, result = delivery.to, delivery.result
        if result.message_id is not None:
            messages[result.message_id] = {"to": to, "round": None, "channel": delivery.channel, "kind": kind}
        if delivery.replaced is not None:
            # Refused with 131047 and replaced by the template at once: history, not published.
            failures[f"confirm:{step}:{to}:replaced"] = _failure(
                f"{alert_id}:confirm:{step}:{to}:replaced", to, None, delivery.replaced.error() or {}, step
            ) | {"replaced_by_fallback": True}
        error = result.error() or delivery.early_failure
        if error is None:
            continue
        if result.message_id is None:
            failures[f"confirm:{step}:{to}"] = _failure(
                f"{alert_id}:confirm:{step}:{to}:failed", to, None, error, step
            )
        else:
            failures[result.message_id] = _failure(
                f"{result.message_id}:failed", to, result.message_id, error, step
            )
    return messages, failures


def _failure(event_id: str, to: str, message_id: str | None, error: dict[str, Any], step: int) -> Failure:
    return {
        "event_id": event_id,
        "recipient": to,
        "message_id": message_id,
        "error": {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))},
        "round": None,
        "confirmation_step": step,
    }


# ---------------------------------------------------------------- follow-ups of a write


def confirmation_followups(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """A follow-up reaction (followup.REACTIONS): what a write on an alert means for the
    confirmation. Idempotent: a re-delivered stream record finds each step claimed or done
    and each notice in its ledger."""
    done: list[str] = []
    if became_entrapment(old, new):
        done.append(request_confirmation(ctx, new))
    before = old.get("confirmation") or {}
    after = new.get("confirmation") or {}
    facts = StoredAlert.of(new)
    alert_id = str(new["alert_id"])
    everyone_sent = people_messaged(new)
    if after.get("confirmed_at") and not before.get("confirmed_at"):
        text = provider_confirmed_notice(facts, confirmed_by=person_name(after.get("confirmed_by")))
        _tell_everyone(ctx, alert_id, everyone_sent, "confirmed", text)
        done.append("provider_confirmed_notices")
    if after.get("missed_at") and not before.get("missed_at"):
        text = confirmation_missed_notice(facts, rounds=int(after.get("rounds_sent", 0)))
        _tell_everyone(ctx, alert_id, everyone_sent, "missed", text)
        done.append("confirmation_missed_notices")
    # A YES after the first: recorded, and acknowledged to the person who tapped it.
    confirmations = new.get("confirmations", [])
    first_by = person_name(after.get("confirmed_by"))
    for yes in confirmations[max(1, len(old.get("confirmations", []))) :]:
        wa_id = (yes.get("responder") or {}).get("wa_id")
        if not wa_id:
            continue
        send_once(
            ctx,
            alert_id,
            ledger=ACKS,
            targets={str(wa_id): str(yes["event_id"])},
            content=_notice(ctx.settings, "ack", later_yes_ack(facts, confirmed_by=first_by)),
        )
        done.append("later_yes_acknowledged")
    return done


def _tell_everyone(ctx: FollowUpContext, alert_id: str, people: list[str], outcome: str, text: str) -> None:
    """The confirmation's outcome (`confirmed`, `missed`) to each person once: ledger key
    `<outcome>:<phone>` in NOTICES, message kind `confirm_<outcome>`."""
    send_once(
        ctx,
        alert_id,
        ledger=NOTICES,
        targets={to: f"{outcome}:{to}" for to in people},
        content=_notice(ctx.settings, f"confirm_{outcome}", text),
    )


def request_confirmation(ctx: FollowUpContext, alert: AlertItem) -> str:
    """The outcome first became entrapment: ask everyone messaged, now (step 0).

    Asked once per alert (a conditional write). The request goes out from here rather than at
    the next timer tick; if this run fails half way, the timer takes the step over once the
    claim's lease ran out.
    """
    alert_id = str(alert["alert_id"])
    if alert.get("closed_at"):
        # Closed is final (SPEC §9): nobody is asked about an alert that was closed.
        logger.info("no entrapment confirmation for a closed alert", extra={"alert_id": alert_id})
        return "confirmation_skipped_closed"
    requested = epoch(ctx.now)
    ctx.repo.start_confirmation(
        alert_id,
        {
            "requested_at": iso(ctx.now),
            "requested_epoch": requested,
            "after_seconds": ctx.settings.confirm_after_seconds,
            "max_rounds": ctx.settings.confirm_max_rounds,
            "steps_done": 0,
            "rounds_sent": 0,
            "next_due_at": iso(ctx.now),
        },
        due_at=requested,
    )
    report = TimerReport()
    try:
        confirmation_step(alert_id, TimerRun(ctx.repo, ctx.woosh, ctx.settings, ctx.now, report))
    except Exception:
        count("ConfirmationStepError")
        logger.exception("confirmation request failed; the timer retries it", extra={"alert_id": alert_id})
    return "confirmation_requested" if report.confirmation_rounds else "confirmation_request_pending"
