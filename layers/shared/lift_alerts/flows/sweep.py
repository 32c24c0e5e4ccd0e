"""The one-minute sweep (SPEC §9, §10): every timed step that is due, escalation rounds and
unanswered marks first, then entrapment confirmation steps, each claimed before it is sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lift_alerts.flows.confirm import run_confirmations
from lift_alerts.flows.escalate import run_escalations
from lift_alerts.flows.sending import woosh_client
from lift_alerts.flows.timer import TimerReport
from lift_alerts.platform.config import Settings
from lift_alerts.store.repositories import Repositories


def run_sweep(settings: Settings, now: datetime, *, time_left: Callable[[], float]) -> TimerReport:
    """Run every step due at `now` once; one alert's trouble never stops the others."""
    repos = Repositories.of(settings.alerts_table)
    report = run_escalations(repos, woosh_client, settings, now, time_left=time_left)
    return run_confirmations(repos, woosh_client, settings, now, report=report, time_left=time_left)
