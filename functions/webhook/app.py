"""Webhook (SPEC §6): GET /webhook (subscription handshake), POST /webhook (taps and statuses)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows import receive_webhook
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.http import json_response, raw_body, register_http_errors, resolve
from lift_alerts.platform.observability import logger, metrics, tracer

ROUTES = {"/webhook": {"GET", "POST"}}

# debug=False: POWERTOOLS_DEV would otherwise print every event, Authorization header included.
app = APIGatewayHttpResolver(debug=False)
# An escaping fault is answered 503 (reached only when even the secret cannot be read): the
# sender retries. Malformed bodies never get that far: the layer answers them 400.
register_http_errors(
    app, ROUTES, validation_is_bad_input=False, fault_message="webhook failed before anything was processed"
)


@app.get("/webhook")
def handshake() -> Response[str]:
    challenge = receive_webhook.handshake(dict(app.current_event.query_string_parameters or {}))
    if challenge is None:
        logger.warning("webhook handshake refused")
        return Response(403, "text/plain", "Forbidden")
    return Response(200, "text/plain", challenge)


@app.post("/webhook")
def receive() -> Response[str]:
    answer = receive_webhook.receive_post(
        raw_body(app.current_event),
        app.current_event.headers,  # case-insensitive; the credentials are checked in the layer
        get_settings(),
    )
    return json_response(answer.status_code, answer.body)


# log_event=False: never the raw event, whatever POWERTOOLS_LOGGER_LOG_EVENT says, because its
# headers carry the callback token (SPEC §6). The correlation id is set by platform.http.resolve.
@logger.inject_lambda_context(clear_state=True, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
