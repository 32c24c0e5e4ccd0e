"""What every timed step shares (SPEC §9, §10): one run of the timer over the alerts whose step
is due, each step claimed with a conditional write before anything is sent (`store.timed_steps`),
so two runs never send a step twice and a run that crashed half way is taken over once its
lease ran out. Escalation rounds (`escalate`) and confirmation steps (`confirm`) are both.

Every step logs and counts how late it ran (SPEC §12): seconds from its due time to its first
send reaching Woosh, or to its mark (`StepClock`); an alarm watches `StepLateness`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime

from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.step_timing import StepKind, lateness
from lift_alerts.domain.timestamps import epoch, iso_from_epoch
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger, seconds
from lift_alerts.store.repositories import Repositories
from lift_alerts.woosh.client import WooshClient

LEASE_SECONDS = 150  # longer than the timer function's timeout, so a live run is never overtaken
ROUND_SEND_SECONDS = 25.0


@dataclass
class TimerReport:
    rounds_sent: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: int = 0
    # Entrapment confirmation steps (confirm.py): "<alert_id>:confirm:<step>" sent, and
    # alerts whose confirmation was missed after the last reminder.
    confirmation_rounds: list[str] = field(default_factory=list)
    confirmations_missed: list[str] = field(default_factory=list)
    # How late each step of the run ran: (kind, seconds), in the order they ran.
    lateness: list[tuple[str, float]] = field(default_factory=list)

    def absorb(self, part: TimerReport) -> None:
        """Add another run's report to this one (runs side by side each keep their own)."""
        for name in (f.name for f in fields(self)):  # every field is a count or a list
            setattr(self, name, getattr(self, name) + getattr(part, name))


@dataclass(frozen=True)
class TimerRun:
    """What every step of one timer run works with: the repositories, Woosh (made on first use), the
    settings, the run's time and its report."""

    repos: Repositories
    woosh: Callable[[], WooshClient]
    settings: Settings
    now: datetime
    report: TimerReport

    def due_alert(
        self, alert_id: str, *, over: Callable[[AlertItem], bool], clear: Callable[[str], object]
    ) -> AlertItem | None:
        """The alert whose step is due; None (counted as skipped) when it is gone, or when its
        steps are over, then with its due mark cleared so the index stops finding it."""
        alert = self.repos.alerts.get_alert(alert_id)
        if alert is not None and over(alert):
            clear(alert_id)
            alert = None
        if alert is None:
            self.report.skipped += 1
        return alert

    def step_clock(self, alert_id: str, kind: StepKind, due_at: float) -> StepClock:
        return StepClock(alert_id, kind, due_at, self.report)


@dataclass
class StepClock:
    """Reports once how late one claimed step ran: at its first send that reached Woosh (a send
    callback, from any of the round's threads), or at its mark, or when the step ended."""

    alert_id: str
    kind: StepKind
    due_at: float
    report: TimerReport
    _reported: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ran(self) -> None:
        with self._lock:
            if self._reported:
                return
            self._reported = True
        late = lateness(self.due_at, time.time())
        self.report.lateness.append((self.kind.value, late))
        seconds("StepLateness", late)  # the StepLateAlarm watches its maximum
        seconds(f"StepLateness_{self.kind.value}", late)
        logger.info(
            "timed step ran",
            extra={
                "alert_id": self.alert_id,
                "step": self.kind.value,
                "due_at": iso_from_epoch(int(self.due_at)),
                "lateness_seconds": late,
            },
        )


# One timer step of one alert: claim it and do it (escalate.escalate, confirm.confirmation_step).
TimerStep = Callable[[str, TimerRun], None]


@dataclass(frozen=True)
class Timer:
    """One kind of timer step: which alerts are due (a sparse index, never a scan) and the step
    that claims and does one of them. Escalation rounds and confirmation steps are both."""

    what: str
    error_metric: str
    due_ids: Callable[[Repositories, int], list[str]]
    step: TimerStep

    def run(
        self,
        repos: Repositories,
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
        run = TimerRun(repos, woosh, settings, now, report)
        for alert_id in self.due_ids(repos, epoch(now)):
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
