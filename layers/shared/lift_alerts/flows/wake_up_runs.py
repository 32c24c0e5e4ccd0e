"""Running what a wake-up woke (SPEC §12): the one alert's due step, with the same claims that
make each step run exactly once (SPEC §9), so a wake-up delivered twice, early, late, or for a
step that a tap, a close or a YES made moot sends nothing extra.

A wake-up that arrives more than a moment early (a wait past SQS's 900 s is a chain) sends the
next with the rest of the wait; one that arrives within that moment waits for the due time.
A step that fails is left to SQS to deliver again, and to the one-minute sweep.

A batch's wake-ups run side by side: each is one alert's step (the claims keep two runs of
the same step apart), and one after another the last of ten due at once would wait for the
nine before it, each a claim, a send paced by the budget and a write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lift_alerts.domain.step_timing import StepSeries, WakeUp
from lift_alerts.flows.confirm import confirmation_step
from lift_alerts.flows.escalate import escalate
from lift_alerts.flows.sending import woosh_client
from lift_alerts.flows.timer import TimerReport, TimerRun, TimerStep
from lift_alerts.flows.wake_up_schedule import schedule_wake_up
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.repositories import Repositories

# As many as SQS hands one invocation (the template's BatchSize).
MAX_PARALLEL_STEPS = 10

STEPS: dict[StepSeries, TimerStep] = {
    StepSeries.ESCALATION: escalate,
    StepSeries.CONFIRMATION: confirmation_step,
}


@dataclass
class WakeUpReport:
    timer: TimerReport = field(default_factory=TimerReport)
    chained: int = 0
    ignored: int = 0
    # SQS message ids to deliver again (a step that raised, a chain that could not be sent).
    retry: list[str] = field(default_factory=list)

    def absorb(self, part: WakeUpReport) -> None:
        """Add what one wake-up's run reported (each runs with a report of its own)."""
        self.timer.absorb(part.timer)
        self.chained += part.chained
        self.ignored += part.ignored
        self.retry += part.retry


def run_wake_ups(
    records: list[dict[str, Any]],
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> WakeUpReport:
    """The SQS batch's wake-ups, side by side (module docstring)."""
    report = WakeUpReport()
    repos = Repositories.of(settings.alerts_table)
    woken: list[tuple[str, WakeUp]] = []
    for record in records:
        wake_up = _wake_up(record)
        if wake_up is None:
            report.ignored += 1
            count("WakeUpIgnored")
            logger.warning("not a wake-up; dropped", extra={"message_id": record.get("messageId")})
        else:
            woken.append((str(record.get("messageId")), wake_up))
    if not woken:
        return report

    def run_one(woke: tuple[str, WakeUp]) -> WakeUpReport:
        message_id, wake_up = woke
        part = WakeUpReport()
        if not _run(wake_up, repos, settings, part, sleep):
            part.retry.append(message_id)
        return part

    with ThreadPoolExecutor(min(MAX_PARALLEL_STEPS, len(woken)), thread_name_prefix="wake-up") as pool:
        for part in pool.map(run_one, woken):
            report.absorb(part)
    return report


def _wake_up(record: dict[str, Any]) -> WakeUp | None:
    try:
        return WakeUp.of(json.loads(str(record.get("body", ""))))
    except ValueError:
        return None


def _run(
    wake_up: WakeUp,
    repos: Repositories,
    settings: Settings,
    report: WakeUpReport,
    sleep: Callable[[float], None],
) -> bool:
    """Run (or chain) one wake-up; False when SQS should deliver it again."""
    early = wake_up.early_by(time.time())
    if wake_up.needs_another(time.time()):
        report.chained += 1
        return schedule_wake_up(settings, wake_up.series, wake_up.alert_id, wake_up.due_at)
    if early > 0:
        sleep(early)  # whole-second delays: the fraction of a second left
    run = TimerRun(repos, woosh_client, settings, utc_now(), report.timer)
    try:
        STEPS[wake_up.series](wake_up.alert_id, run)
    except Exception:
        report.timer.errors += 1
        count("WakeUpStepError")
        logger.exception(
            "woken step failed; SQS delivers the wake-up again and the sweep runs it once overdue",
            extra={"alert_id": wake_up.alert_id, "series": wake_up.series.value},
        )
        return False
    return True
