"""Webhook (SPEC §6): GET /webhook (subscription handshake), POST /webhook (taps and statuses)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts import webhook
from lift_alerts.api import BadRequest, json_response, raw_body, register_http_errors
from lift_alerts.aws import client
from lift_alerts.clock import utc_now
from lift_alerts.config import get_secrets, get_settings
from lift_alerts.observability import logger, metrics, tracer
from lift_alerts.parking import ParkingLot
from lift_alerts.repository import AlertRepository

ROUTES = {"/webhook": {"GET", "POST"}}
FAULT_MESSAGE = "webhook failed before anything was processed"

# debug=False: POWERTOOLS_DEV would otherwise print every event, Authorization header included.
app = APIGatewayHttpResolver(debug=False)
# An escaping fault is answered 503 (reached only when even the secret cannot be read): the
# sender retries. Malformed bodies never get that far: the layer answers them 400.
register_http_errors(app, ROUTES, validation_is_bad_input=False, fault_message=FAULT_MESSAGE)


@app.get("/webhook")
def handshake() -> Response[str]:
    challenge = webhook.subscription_challenge(
        dict(app.current_event.query_string_parameters or {}), get_secrets()
    )
    if challenge is None:
        logger.warning("webhook handshake refused")
        return Response(403, "text/plain", "Forbidden")
    return Response(200, "text/plain", challenge)


@app.post("/webhook")
def receive() -> Response[str]:
    answer = _receive(app.current_event)
    return json_response(answer.status_code, answer.body)


def _receive(event: APIGatewayProxyEventV2) -> webhook.WebhookAnswer:
    settings = get_settings()
    return webhook.receive(
        raw_body(event),
        event.headers,  # case-insensitive; the credentials are checked in the layer
        secrets=get_secrets(),
        repo=AlertRepository(settings.alerts_table),
        parking=lambda: ParkingLot(settings.parked_queue_url, client("sqs")),
        settings=settings,
        now=utc_now(),
    )


def _is_post_webhook(event: dict[str, Any]) -> bool:
    """What the resolver would route to `receive`: POST on exactly /webhook (HTTP API v2)."""
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    return event.get("rawPath") == "/webhook" and method == "POST"


def _post_webhook(event: dict[str, Any]) -> dict[str, Any]:
    """POST /webhook without the resolver: every tap and status comes this way, and routing
    one path through the resolver cost about a tenth of a tap's CPU. Answers exactly as the
    route and the error handlers registered above would (tests/component/test_webhook.py)."""
    try:
        answer = _receive(APIGatewayProxyEventV2(event))
        status, body = answer.status_code, answer.body
    except BadRequest as exc:
        status, body = exc.status_code, exc.body
    except Exception:
        logger.exception(FAULT_MESSAGE)
        status, body = 503, {"message": "temporarily unavailable, please retry"}
    return {
        "statusCode": status,
        "body": json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "cookies": [],
    }


# log_event=False: never the raw event, whatever POWERTOOLS_LOGGER_LOG_EVENT says, because its
# headers carry the callback token (SPEC §6).
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _is_post_webhook(event):
        return _post_webhook(event)
    return app.resolve(event, context)
