"""The one-minute sweep (SPEC §9, §10, §12): every timed step that is due, escalation rounds and
unanswered marks first, then entrapment confirmation steps, each claimed before it is sent.
Each run then records when it ran (one small write), which `GET /status` shows (SPEC §13)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from lift_alerts.domain.timestamps import iso
from lift_alerts.flows.confirm import run_confirmations
from lift_alerts.flows.escalate import run_escalations
from lift_alerts.flows.sending import woosh_client
from lift_alerts.flows.timer import TimerReport
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.sweep_runs import SweepRuns


def run_sweep(settings: Settings, now: datetime, *, time_left: Callable[[], float]) -> TimerReport:
    """Run every step due at `now` once; one alert's trouble never stops the others."""
    repos = Repositories.of(settings.alerts_table)
    report = run_escalations(repos, woosh_client, settings, now, time_left=time_left)
    report = run_confirmations(repos, woosh_client, settings, now, report=report, time_left=time_left)
    try:
        SweepRuns(settings.alerts_table).record_run(iso(now))
    except (BotoCoreError, ClientError):
        # The steps ran; only the desk's "last run" is stale until the next run records it.
        logger.exception("could not record the sweep's run")
    return report
