"""Escalation timer (SPEC §9, §10): every minute, send due reminder rounds and mark unanswered
alerts, then send due entrapment confirmation reminders and mark missed confirmations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows.sweep import run_sweep
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.observability import logger, metrics, tracer

# Read at init: a configuration error (an unknown ALERT_TEMPLATE_PARAMS name, a missing
# variable) fails the cold start with its message instead of failing every send. Requests
# read get_settings() again: it is cached, and tests that change the environment reset it.
get_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    report = run_sweep(get_settings(), utc_now(), time_left=time_left)
    summary = {
        "rounds_sent": report.rounds_sent,
        "unanswered": report.unanswered,
        "confirmation_rounds": report.confirmation_rounds,
        "confirmations_missed": report.confirmations_missed,
        "skipped": report.skipped,
        "errors": report.errors,
    }
    logger.info("escalation run finished", extra=summary)
    return summary
