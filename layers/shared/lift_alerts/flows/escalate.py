"""Escalation (SPEC §9): remind everyone until someone taps, then mark the alert unanswered.

Round n is due n x after_seconds after creation; step max_rounds + 1 is "unanswered". Each
step is claimed with a conditional write before anything is sent, so two timer runs never
send a round twice. Each reminder is recorded right after its send; a run that crashes
half way leaves its claim to expire (LEASE_SECONDS), and the next run takes the round over
and sends only to those not yet recorded. The one ambiguous case, a send Woosh accepted
just before the crash, is sent again: a duplicate reminder is safer than a missing one.
"""

from __future__ import annotations

import time

from lift_alerts.domain.alert_facts import StoredAlert, all_deliveries_failed, everyone
from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.contents import AlertContent
from lift_alerts.domain.deliveries import Delivery, deliveries_recorded, round_records
from lift_alerts.domain.step_timing import StepKind, StepSeries
from lift_alerts.domain.timestamps import epoch, iso
from lift_alerts.flows.queueing import enqueuer
from lift_alerts.flows.sending import send_messages
from lift_alerts.flows.timer import LEASE_SECONDS, ROUND_SEND_SECONDS, StepClock, Timer, TimerRun
from lift_alerts.flows.wake_up_schedule import bring_step_forward, schedule_wake_up
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.table import Written


def escalate(alert_id: str, run: TimerRun) -> None:
    repos, now, report = run.repos, run.now, run.report
    alert = run.due_alert(
        alert_id,
        over=lambda a: bool(a.get("responses") or a.get("closed_at") or a.get("unanswered_at")),
        clear=repos.escalation.clear_due,
    )
    if alert is None:
        return
    rounds_sent = int(alert.get("rounds_sent", 0))
    max_rounds = int(alert["escalation"]["max_rounds"])
    claim = alert.get("claim") or {}
    if claim.get("step") == rounds_sent + 1 and claim.get("reason"):
        reason = str(claim["reason"])  # taking over a crashed run: keep its reason
    elif all_deliveries_failed(alert, rounds_sent):
        reason = "all_deliveries_failed"
    else:
        reason = "no_response"
    step = rounds_sent + 1
    claimed = repos.escalation.claim_step(
        alert_id,
        step=step,
        rounds_sent=rounds_sent,
        now=epoch(now),
        lease_until=epoch(now) + LEASE_SECONDS,
        reason=reason,
    )
    if not isinstance(claimed, Written):
        report.skipped += 1
        return
    # Thread-local: a batch of wake-ups runs steps side by side (flows.wake_up_runs).
    logger.thread_safe_append_keys(alert_id=alert_id, ticket_id=alert.get("ticket_id"))
    clock = run.step_clock(
        alert_id, _step_kind(step, max_rounds, reason), float(alert.get("due_at", epoch(now)))
    )
    if step > max_rounds:
        if isinstance(repos.escalation.mark_unanswered(alert_id, at=iso(now)), Written):
            clock.ran()
            logger.warning("alert unanswered", extra={"rounds": rounds_sent})
            report.unanswered.append(alert_id)
        return
    _send_reminders(alert, step, max_rounds, reason, run, clock)
    clock.ran()  # when no reminder reached Woosh (all queued), the round's end
    report.rounds_sent.append(f"{alert_id}:{step}")


def _step_kind(step: int, max_rounds: int, reason: str) -> StepKind:
    if step > max_rounds:
        return StepKind.UNANSWERED
    return StepKind.DUE_AT_ONCE if reason == "all_deliveries_failed" else StepKind.REMINDER


def _send_reminders(
    alert: AlertItem, round_no: int, max_rounds: int, reason: str, run: TimerRun, clock: StepClock
) -> None:
    repos, woosh, settings, now = run.repos, run.woosh, run.settings, run.now
    alert_id = str(alert["alert_id"])
    recipients = everyone(alert)
    # Reminders an earlier run sent before it died: not sent again.
    done = deliveries_recorded(alert.get("reminders", {}), round_no)

    def remember(delivery: Delivery) -> None:
        if not delivery.queued:
            clock.ran()  # the round's first send reached Woosh
        repos.ledgers.record_reminder(alert_id, round_no, delivery.to, delivery.record())

    deliveries = send_messages(
        repos,
        woosh(),
        settings,
        alert_id=alert_id,
        content=AlertContent(settings, StoredAlert.of(alert), alert_id, (round_no, max_rounds)),
        recipients=recipients,
        round_no=round_no,
        now=now,
        deadline=time.monotonic() + ROUND_SEND_SECONDS,
        on_sent=remember,
        done=done,
        # A reminder with no send slot in time waits in the send queue (SPEC §11): it is not a
        # failed delivery, and the next round stays anchored to creation.
        enqueue=enqueuer(
            repos.queue,
            alert,
            round_no=round_no,
            kind="reminder",
            order=recipients,
            settings=settings,
        ),
    )
    records = round_records(alert_id, round_no, deliveries)
    created = int(alert["created_epoch"])
    after = int(alert["escalation"]["after_seconds"])
    stored = repos.alerts.record_round_results(
        alert_id,
        round_no=round_no,
        records=records,
        completed_at=iso(now),
        escalation_round={"round": round_no, "recipients": recipients, "reason": reason, "sent_at": iso(now)},
        next_due_at=created + (round_no + 1) * after,
    )
    schedule_wake_up(settings, StepSeries.ESCALATION, alert_id, created + (round_no + 1) * after)
    if all_deliveries_failed(stored, round_no):
        bring_step_forward(repos, settings, alert_id, round_no=round_no, now=now)
    count("ReminderRoundSent")
    logger.info(
        "reminder round sent", extra={"round": round_no, "recipients": len(recipients), "reason": reason}
    )


ESCALATIONS = Timer(
    "escalation", "EscalationError", lambda repos, now: repos.escalation.due_alert_ids(now), escalate
)
run_escalations = ESCALATIONS.run
