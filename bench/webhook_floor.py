"""The webhook's honest floor: a minimal Powertools app doing a tap's work, nothing of ours.

`webhook_own_share` divides the whole webhook handler's CPU time for one tap by this app's:
the same `APIGatewayHttpResolver`, the same three decorators the team's handlers carry
(`logger.inject_lambda_context`, `tracer.capture_lambda_handler`, `metrics.log_metrics`),
and the same work a tap cannot do without: route `POST /webhook`, check the bearer
credential (`hmac.compare_digest`), parse the JSON body (`json_body`), read the tap's button
id, and make ONE DynamoDB UpdateItem (the tap's own request, through the same botocore
client, answered the same way as the handler's). So the ratio is what our code costs over
Powertools and boto3 as we are required to use them, where `webhook_overhead_ratio`
compares the handler with json.loads + the credential check + the UpdateItem alone.

`observed=True` builds the same app plus what an observable one adds per request: one INFO
log line and one metric (reported beside the figure, without a goal).
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from collections.abc import Callable
from typing import Any

# Called with the tap's alert id (from its button id); makes the tap's one UpdateItem.
UpdateTap = Callable[[str], object]


def powertools_floor(
    update_tap: UpdateTap, token: bytes, *, observed: bool = False, log_stream: io.TextIOBase | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The minimal app's Lambda handler. Build it once per process (a Powertools Logger adds
    a handler to its `logging` logger each time one is made for a service)."""
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.metrics import MetricUnit

    service = "webhook-floor-observed" if observed else "webhook-floor"
    handler_ = logging.StreamHandler(log_stream) if log_stream is not None else None
    logger = Logger(service=service, logger_handler=handler_)
    tracer = Tracer(service=service)
    metrics = Metrics(namespace="WebhookFloor", service=service)
    app = APIGatewayHttpResolver()

    @app.post("/webhook")
    def receive() -> Response[str]:
        event = app.current_event
        given = (event.headers.get("authorization") or "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(given, token):
            return Response(401, "application/json", '{"message": "unauthorized"}')
        message = event.json_body["entry"][0]["changes"][0]["value"]["messages"][0]
        _prefix, alert_id, choice = message["interactive"]["button_reply"]["id"].split(":")
        update_tap(alert_id)
        if observed:
            logger.info("tap recorded", extra={"alert_id": alert_id, "choice": choice})
            metrics.add_metric(name="TapRecorded", unit=MetricUnit.Count, value=1)
        return Response(200, "application/json", json.dumps({"received": 1}))

    @logger.inject_lambda_context(clear_state=True, log_event=False)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler  # type: ignore[no-any-return]
