"""Dispatcher (SPEC §11): send the messages waiting in the send queue, highest priority first,
as fast as the service-wide budget allows. Woken by DispatchQueue (one message per enqueue)
and by a one-minute schedule (a run that crashed or ran out of time is picked up)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows.dispatch import dispatch_waiting
from lift_alerts.flows.sending import sending_function_configuration
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.observability import logger, metrics, tracer

# Read at init: a configuration error fails the cold start, naming it.
sending_function_configuration()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = dispatch_waiting(get_settings(), time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    summary = {
        "sent": report.sent,
        "failed": report.failed,
        "dropped": report.dropped,
        "still_waiting": report.still_waiting,
        "skipped_turn": report.skipped_turn,
    }
    logger.info("dispatch run finished", extra=summary)
    # Wake-up messages carry nothing: every one of a batch is done once the queue was drained.
    return {**summary, "batchItemFailures": []}
