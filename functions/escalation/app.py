"""Escalation timer (SPEC §9, §10): every minute, send due reminder rounds and mark unanswered
alerts, then send due entrapment confirmation reminders and mark missed confirmations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.clock import utc_now
from lift_alerts.config import get_settings
from lift_alerts.confirmation import run_confirmations
from lift_alerts.escalation import run_escalations
from lift_alerts.observability import logger, metrics, tracer
from lift_alerts.repository import AlertRepository
from lift_alerts.sending import woosh_client
from lift_alerts.woosh import WooshClient

# Read at init: a configuration error (an unknown ALERT_TEMPLATE_PARAMS name, a missing
# variable) fails the cold start with its message instead of failing every send. Requests
# read get_settings() again: it is cached, and tests that change the environment reset it.
get_settings()


def woosh() -> WooshClient:
    return woosh_client()  # paced by the service-wide budget (SPEC §11)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    repo = AlertRepository(get_settings().alerts_table)
    now = utc_now()

    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    report = run_escalations(repo, woosh, get_settings(), now, time_left=time_left)
    run_confirmations(repo, woosh, get_settings(), now, report=report, time_left=time_left)
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
