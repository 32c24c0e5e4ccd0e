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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lift_alerts.clock import epoch, iso
from lift_alerts.config import Settings
from lift_alerts.dispatch import SendQueue, enqueuer
from lift_alerts.observability import count, logger
from lift_alerts.repository import AlertRepository
from lift_alerts.sending import AlertContent, Delivery, deliveries_recorded, round_records, send_messages
from lift_alerts.stored import AlertItem, StoredAlert, all_deliveries_failed, everyone
from lift_alerts.table import Written
from lift_alerts.woosh import WooshClient

LEASE_SECONDS = 150  # longer than the timer function's timeout, so a live run is never overtaken
ROUND_SEND_SECONDS = 25.0


@dataclass
class TimerReport:
    rounds_sent: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: int = 0
    # Entrapment confirmation steps (confirmation.py): "<alert_id>:confirm:<step>" sent, and
    # alerts whose confirmation was missed after the last reminder.
    confirmation_rounds: list[str] = field(default_factory=list)
    confirmations_missed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TimerRun:
    """What every step of one timer run works with: the table, Woosh (made on first use), the
    settings, the run's time and its report."""

    repo: AlertRepository
    woosh: Callable[[], WooshClient]
    settings: Settings
    now: datetime
    report: TimerReport

    def due_alert(
        self, alert_id: str, *, over: Callable[[AlertItem], bool], clear: Callable[[str], object]
    ) -> AlertItem | None:
        """The alert whose step is due; None (counted as skipped) when it is gone, or when its
        steps are over, then with its due mark cleared so the index stops finding it."""
        alert = self.repo.get_alert(alert_id)
        if alert is not None and over(alert):
            clear(alert_id)
            alert = None
        if alert is None:
            self.report.skipped += 1
        return alert


# One timer step of one alert: claim it and do it (escalation.escalate, confirmation.confirmation_step).
TimerStep = Callable[[str, TimerRun], None]


@dataclass(frozen=True)
class Timer:
    """One kind of timer step: which alerts are due (a sparse index, never a scan) and the step
    that claims and does one of them. Escalation rounds and confirmation steps are both."""

    what: str
    error_metric: str
    due_ids: Callable[[AlertRepository, int], list[str]]
    step: TimerStep

    def run(
        self,
        repo: AlertRepository,
        woosh: Callable[[], WooshClient],
        settings: Settings,
        now: datetime,
        *,
        report: TimerReport | None = None,
        time_left: Callable[[], float] = lambda: 900.0,
    ) -> TimerReport:
        """Run one step per due alert while the invocation has time for a whole step.

        One alert's trouble never stops the others: its claim expires and the next run retries it.
        """
        report = report or TimerReport()
        run = TimerRun(repo, woosh, settings, now, report)
        for alert_id in self.due_ids(repo, epoch(now)):
            if time_left() < ROUND_SEND_SECONDS + 5:
                logger.warning(
                    "timer out of time; the rest waits for the next run", extra={"steps": self.what}
                )
                break
            try:
                self.step(alert_id, run)
            except Exception:
                report.errors += 1
                count(self.error_metric)
                logger.exception(f"{self.what} step failed", extra={"alert_id": alert_id})
        return report


def escalate(alert_id: str, run: TimerRun) -> None:
    repo, now, report = run.repo, run.now, run.report
    alert = run.due_alert(
        alert_id,
        over=lambda a: bool(a.get("responses") or a.get("closed_at") or a.get("unanswered_at")),
        clear=repo.clear_due,
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
    claimed = repo.claim_step(
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
    logger.append_keys(alert_id=alert_id, ticket_id=alert.get("ticket_id"))
    if step > max_rounds:
        if isinstance(repo.mark_unanswered(alert_id, at=iso(now)), Written):
            logger.warning("alert unanswered", extra={"rounds": rounds_sent})
            report.unanswered.append(alert_id)
        return
    _send_reminders(alert, step, max_rounds, reason, run)
    report.rounds_sent.append(f"{alert_id}:{step}")


def _send_reminders(alert: AlertItem, round_no: int, max_rounds: int, reason: str, run: TimerRun) -> None:
    repo, woosh, settings, now = run.repo, run.woosh, run.settings, run.now
    alert_id = str(alert["alert_id"])
    recipients = everyone(alert)
    # Reminders an earlier run sent before it died: not sent again.
    done = deliveries_recorded(alert.get("reminders", {}), round_no)

    def remember(delivery: Delivery) -> None:
        repo.record_reminder(alert_id, round_no, delivery.to, delivery.record())

    deliveries = send_messages(
        repo,
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
            SendQueue(repo.table_name),
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
    stored = repo.record_round_results(
        alert_id,
        round_no=round_no,
        recipients=records.recipients,
        messages=records.messages,
        failures=records.failures,
        completed_at=iso(now),
        escalation_round={"round": round_no, "recipients": recipients, "reason": reason, "sent_at": iso(now)},
        next_due_at=created + (round_no + 1) * after,
    )
    if all_deliveries_failed(stored, round_no):
        repo.bring_forward(alert_id, round_no=round_no, now=epoch(now))
    count("ReminderRoundSent")
    logger.info(
        "reminder round sent", extra={"round": round_no, "recipients": len(recipients), "reason": reason}
    )


ESCALATIONS = Timer("escalation", "EscalationError", lambda repo, now: repo.due_alert_ids(now), escalate)
run_escalations = ESCALATIONS.run
