"""Scheduling a timed step's wake-up (SPEC §12): whenever a step's due time is set or moves (an
alert created with escalation, a round sent, every delivery of the latest round failed, a
confirmation requested, a confirmation round sent), one SQS message delayed until the step is
due. Scheduling never fails the request or the write that caused it: a wake-up that cannot be
sent is logged and counted, and the one-minute sweep runs the step instead (at most a minute
late)."""

from __future__ import annotations

import time
from datetime import datetime

from lift_alerts.domain.step_timing import StepSeries, WakeUp, wake_up_delay
from lift_alerts.domain.timestamps import epoch
from lift_alerts.platform.aws import client
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import Written
from lift_alerts.store.wake_ups import WakeUpQueue


def schedule_wake_up(settings: Settings, series: StepSeries, alert_id: str, due_at: float) -> bool:
    """Send the wake-up of `alert_id`'s next `series` step, due at `due_at` (epoch seconds).
    False when it could not be sent (the sweep runs the step); never raises."""
    if not settings.timer_queue_url:
        return False  # no wake-up queue configured: the sweep alone runs timed steps
    wake_up = WakeUp(alert_id, series, due_at)
    delay = wake_up_delay(due_at, time.time())
    try:
        WakeUpQueue(settings.timer_queue_url, client("sqs")).send(wake_up, delay_seconds=delay)
    except Exception:  # whatever it is, the request that set the due time must not fail
        count("WakeUpNotScheduled")
        logger.exception(
            "wake-up not scheduled; the one-minute sweep will run the step",
            extra={"alert_id": alert_id, "series": series.value, "due_at": due_at},
        )
        return False
    return True


def bring_step_forward(
    repos: Repositories, settings: Settings, alert_id: str, *, round_no: int, now: datetime
) -> None:
    """Every delivery of the latest round failed (SPEC §9): the next step is due at once."""
    moved = repos.escalation.bring_forward(alert_id, round_no=round_no, now=epoch(now))
    if isinstance(moved, Written):
        schedule_wake_up(settings, StepSeries.ESCALATION, alert_id, epoch(now))
