"""Publisher: the table's stream (the outbox) -> events on the custom bus (SPEC §7, §9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows.publish_events import publish_stream
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publish_stream(event.get("Records", []), get_settings())
