"""Send API (SPEC §4, §9): POST /alerts, GET /alerts/{alert_id}, POST /alerts/{alert_id}/close."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows import create_alert, read_alerts
from lift_alerts.flows.sending import remaining_deadline, sending_function_configuration
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.http import json_response, parse_json, raw_body, register_http_errors, resolve
from lift_alerts.platform.observability import logger, metrics, tracer

# Read at init: a configuration error (an unknown ALERT_TEMPLATE_PARAMS name, a missing
# variable) fails the cold start with its message instead of failing every send. Requests
# read get_settings() again: it is cached, and tests that change the environment reset it.
sending_function_configuration()

MAX_BODY = 64 * 1024
ROUTES = {"/alerts": {"POST"}, "/alerts/{alert_id}": {"GET"}, "/alerts/{alert_id}/close": {"POST"}}

app = APIGatewayHttpResolver()
register_http_errors(app, ROUTES, validation_is_bad_input=True, fault_message="request failed")


@app.post("/alerts")
def post_alert() -> Response[str]:
    payload = parse_json(raw_body(app.current_event), limit=MAX_BODY)
    request = create_alert.AlertRequest.model_validate(payload)
    settings = get_settings()
    outcome = create_alert.post_alert(
        request,
        payload,
        idempotency_key=app.current_event.headers.get("idempotency-key"),
        settings=settings,
        deadline=remaining_deadline(settings, _remaining_ms()),
    )
    return json_response(outcome.status_code, outcome.body)


@app.get("/alerts/<alert_id>")
def get_alert(alert_id: str) -> Response[str]:
    view = read_alerts.find_alert(alert_id, get_settings())
    if view is None:
        return json_response(404, {"message": f"no alert {alert_id[:64]}"})
    return json_response(200, view)


@app.post("/alerts/<alert_id>/close")
def close_alert(alert_id: str) -> Response[str]:
    raw = raw_body(app.current_event)
    close = read_alerts.CloseRequest.model_validate(parse_json(raw, limit=MAX_BODY) if raw.strip() else {})
    view = read_alerts.close_alert(alert_id, close.reason, get_settings())
    if view is None:
        return json_response(404, {"message": f"no alert {alert_id[:64]}"})
    return json_response(200, view)


def _remaining_ms() -> int | None:
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


# The correlation id (the request's id) is set by platform.http.resolve.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    create_alert.register_lambda_context(context)
    return resolve(app, event, context)
