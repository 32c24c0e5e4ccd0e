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

The first YES (recorded by the webhook, record_taps.record_yes) closes the alert and removes the
index key; what it and the missed mark mean for people is sent here, from the table's
stream, once per person (follow-up ledgers).
"""

from __future__ import annotations

import time
from typing import Final

from lift_alerts.domain.alert_facts import StoredAlert, people_messaged
from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.confirmation_rules import became_entrapment, step_due_at, step_kind
from lift_alerts.domain.contents import ConfirmContent, notice
from lift_alerts.domain.deliveries import Delivery, deliveries_recorded, step_records
from lift_alerts.domain.step_timing import StepKind, StepSeries
from lift_alerts.domain.timestamps import epoch, iso, iso_from_epoch
from lift_alerts.domain.wording import (
    confirmation_missed_notice,
    later_yes_ack,
    person_name,
    provider_confirmed_notice,
)
from lift_alerts.flows.follow_up_sends import FollowUpContext
from lift_alerts.flows.notify import send_notice
from lift_alerts.flows.queueing import enqueuer
from lift_alerts.flows.sending import send_messages
from lift_alerts.flows.timer import LEASE_SECONDS, ROUND_SEND_SECONDS, StepClock, Timer, TimerReport, TimerRun
from lift_alerts.flows.wake_up_schedule import schedule_wake_up
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.table import Written

# Alert maps (created with the alert): each confirmation send of a claimed step, written
# right after it; the notices about the outcome, one per person; acknowledgements by tap id
# (shared with the acknowledgements of classification taps: a tap id is never both).
SENDS: Final = "confirm_sends"
NOTICES: Final = "confirmation_notices"
ACKS: Final = "acks"


def confirmation_step(alert_id: str, run: TimerRun) -> None:
    """Claim the alert's next confirmation step and do it (send, or mark missed)."""
    repos, now, report = run.repos, run.now, run.report
    alert = run.due_alert(alert_id, over=_confirmation_over, clear=repos.confirmation.clear_confirmation_due)
    if alert is None:
        return
    confirmation = alert["confirmation"]
    step = int(confirmation.get("steps_done", 0))
    max_rounds = int(confirmation["max_rounds"])
    claimed = repos.confirmation.claim_confirmation_step(
        alert_id, step=step, now=epoch(now), lease_until=epoch(now) + LEASE_SECONDS
    )
    if not isinstance(claimed, Written):
        report.skipped += 1
        return
    due_at = step_due_at(int(confirmation["requested_epoch"]), step, int(confirmation["after_seconds"]))
    clock = run.step_clock(alert_id, _STEP_KINDS[step_kind(step, max_rounds)], due_at)
    if step_kind(step, max_rounds) == "missed":
        if isinstance(repos.confirmation.mark_confirmation_missed(alert_id, at=iso(now), step=step), Written):
            clock.ran()
            logger.warning(
                "entrapment confirmation missed", extra={"alert_id": alert_id, "rounds": max_rounds}
            )
            report.confirmations_missed.append(alert_id)
        return
    _send_step(alert, step, max_rounds, run, clock)
    clock.ran()  # when no question reached Woosh (all queued or skipped), the step's end
    report.confirmation_rounds.append(f"{alert_id}:confirm:{step}")


_STEP_KINDS = {
    "request": StepKind.CONFIRMATION_REQUEST,
    "reminder": StepKind.CONFIRMATION_REMINDER,
    "missed": StepKind.CONFIRMATION_MISSED,
}


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
    lambda repos, now: repos.confirmation.confirmation_due_ids(now),
    confirmation_step,
)
run_confirmations = CONFIRMATIONS.run


def _send_step(alert: AlertItem, step: int, max_rounds: int, run: TimerRun, clock: StepClock) -> None:
    repos, woosh, settings, now = run.repos, run.woosh, run.settings, run.now
    alert_id = str(alert["alert_id"])
    confirmation = alert["confirmation"]

    def remember(delivery: Delivery) -> None:
        if not delivery.queued:
            clock.ran()  # the step's first question reached Woosh
        repos.ledgers.record_sent(alert_id, SENDS, step, delivery.to, delivery.record())

    content = ConfirmContent(settings, StoredAlert.of(alert), alert_id, (step, max_rounds) if step else None)
    people = people_messaged(alert)
    deliveries = send_messages(
        repos,
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
            repos.queue,
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
    repos.confirmation.record_confirmation_step(
        alert_id,
        step=step,
        messages=messages,
        failures=failures,
        skipped=skipped,
        next_due_at=next_due,
        next_due_iso=iso_from_epoch(next_due),
    )
    schedule_wake_up(settings, StepSeries.CONFIRMATION, alert_id, next_due)
    if skipped:
        count("NoticeSkipped", len(skipped))
    count("ConfirmationRoundSent")
    logger.info(
        "confirmation round sent",
        extra={"alert_id": alert_id, "step": step, "recipients": len(deliveries), "skipped": len(skipped)},
    )


# ---------------------------------------------------------------- follow-ups of a write


def confirmation_followups(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """A follow-up reaction (follow_up.REACTIONS): what a write on an alert means for the
    confirmation. Idempotent: a re-delivered stream record finds each step claimed or done
    and each notice in its ledger."""
    done: list[str] = []
    if became_entrapment(old, new):
        done.append(request_confirmation(ctx, new))
    before = old.get("confirmation") or {}
    after = new.get("confirmation") or {}
    facts = StoredAlert.of(new)
    everyone_sent = people_messaged(new)
    if after.get("confirmed_at") and not before.get("confirmed_at"):
        text = provider_confirmed_notice(facts, confirmed_by=person_name(after.get("confirmed_by")))
        _tell_everyone(ctx, new, everyone_sent, "confirmed", text)
        done.append("provider_confirmed_notices")
    if after.get("missed_at") and not before.get("missed_at"):
        text = confirmation_missed_notice(facts, rounds=int(after.get("rounds_sent", 0)))
        _tell_everyone(ctx, new, everyone_sent, "missed", text)
        done.append("confirmation_missed_notices")
    # A YES after the first: recorded, and acknowledged to the person who tapped it.
    confirmations = new.get("confirmations", [])
    first_by = person_name(after.get("confirmed_by"))
    for yes in confirmations[max(1, len(old.get("confirmations", []))) :]:
        wa_id = (yes.get("responder") or {}).get("wa_id")
        if not wa_id:
            continue
        content = notice(ctx.settings, "ack", later_yes_ack(facts, confirmed_by=first_by))
        send_notice(ctx, new, ACKS, {str(wa_id): str(yes["event_id"])}, content)
        done.append("later_yes_acknowledged")
    return done


def _tell_everyone(
    ctx: FollowUpContext, alert: AlertItem, people: list[str], outcome: str, text: str
) -> None:
    """The confirmation's outcome (`confirmed`, `missed`) to each person once: ledger key
    `<outcome>:<phone>` in NOTICES, message kind `confirm_<outcome>` (a notice like any other:
    its text kept for a template fallback, a send that failed for now tried again)."""
    targets = {to: f"{outcome}:{to}" for to in people}
    send_notice(ctx, alert, NOTICES, targets, notice(ctx.settings, f"confirm_{outcome}", text))


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
    ctx.repos.confirmation.start_confirmation(
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
    # Its wake-up (SPEC §12): should this run die before it claims the request, the wake-up
    # sends it within seconds.
    schedule_wake_up(ctx.settings, StepSeries.CONFIRMATION, alert_id, requested)
    report = TimerReport()
    try:
        confirmation_step(alert_id, TimerRun(ctx.repos, ctx.woosh, ctx.settings, ctx.now, report))
    except Exception:
        count("ConfirmationStepError")
        logger.exception("confirmation request failed; the timer retries it", extra={"alert_id": alert_id})
        # Its claim may be held by this run: a wake-up once the claim's lease has run out.
        schedule_wake_up(ctx.settings, StepSeries.CONFIRMATION, alert_id, epoch(ctx.now) + LEASE_SECONDS + 1)
    return "confirmation_requested" if report.confirmation_rounds else "confirmation_request_pending"
