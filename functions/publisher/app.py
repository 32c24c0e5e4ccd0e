"""Publisher: the table's stream (the outbox) -> events on the custom bus (SPEC §7, §9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.aws import client
from lift_alerts.config import get_settings
from lift_alerts.events import EventPublisher
from lift_alerts.observability import logger, metrics, tracer
from lift_alerts.outbox import publish_stream_records


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    publisher = EventPublisher(get_settings().event_bus_name, client("events"))
    return publish_stream_records(event.get("Records", []), publisher)
