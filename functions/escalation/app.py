"""Timed steps (SPEC §9, §10, §12): a wake-up per step from TimerQueue runs that alert's due step
within seconds of its due time; every minute the sweep runs whatever is overdue (the backstop
for a lost wake-up): reminder rounds and unanswered marks, then entrapment confirmation
reminders and missed confirmations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows.sending import sending_function_configuration
from lift_alerts.flows.sweep import run_sweep
from lift_alerts.flows.timer import TimerReport
from lift_alerts.flows.wake_up_runs import run_wake_ups
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.observability import logger, metrics, tracer

# Read at init: a configuration error (an unknown ALERT_TEMPLATE_PARAMS name, a missing
# variable) fails the cold start with its message instead of failing every send. Requests
# read get_settings() again: it is cached, and tests that change the environment reset it.
sending_function_configuration()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # TimerQueue: wake-ups
        woken = run_wake_ups(event["Records"], get_settings())
        summary = {**_summary(woken.timer), "chained": woken.chained, "ignored": woken.ignored}
        logger.info("wake-ups run", extra=summary)
        return {**summary, "batchItemFailures": [{"itemIdentifier": mid} for mid in woken.retry]}

    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    summary = _summary(run_sweep(get_settings(), utc_now(), time_left=time_left))
    logger.info("escalation run finished", extra=summary)
    return summary


def _summary(report: TimerReport) -> dict[str, Any]:
    return {
        "rounds_sent": report.rounds_sent,
        "unanswered": report.unanswered,
        "confirmation_rounds": report.confirmation_rounds,
        "confirmations_missed": report.confirmations_missed,
        "skipped": report.skipped,
        "errors": report.errors,
    }
