"""Send API (SPEC §4, §9): POST /alerts, GET /alerts/{alert_id}, POST /alerts/{alert_id}/close."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lift_alerts import alerts
from lift_alerts.api import (
    BadRequest,
    json_response,
    parse_json,
    raw_body,
    route_not_found,
    validation_errors,
)
from lift_alerts.clock import iso, utc_now
from lift_alerts.config import get_secrets, get_settings
from lift_alerts.models import AlertRequest, CloseRequest
from lift_alerts.observability import logger, metrics, tracer
from lift_alerts.repository import AlertRepository
from lift_alerts.sending import remaining_deadline
from lift_alerts.woosh import WooshClient

# Read at init: a configuration error (an unknown ALERT_TEMPLATE_PARAMS name, a missing
# variable) fails the cold start with its message instead of failing every send. Requests
# read get_settings() again: it is cached, and tests that change the environment reset it.
get_settings()

MAX_BODY = 64 * 1024
ROUTES = {"/alerts": {"POST"}, "/alerts/{alert_id}": {"GET"}, "/alerts/{alert_id}/close": {"POST"}}
_ALERT_ID = re.compile(r"^[0-9a-f]{32}$")

app = APIGatewayHttpResolver()
_idempotency = IdempotencyConfig(
    event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=24 * 3600
)


def repository() -> AlertRepository:
    return AlertRepository(get_settings().alerts_table)


def woosh() -> WooshClient:
    settings = get_settings()
    return WooshClient(settings.woosh_base_url, get_secrets().woosh_api_key)


def _persistence() -> DynamoDBPersistenceLayer:
    from lift_alerts.aws import client

    return DynamoDBPersistenceLayer(
        table_name=get_settings().alerts_table,
        key_attr="pk",
        expiry_attr="expires_at",
        boto3_client=client("dynamodb"),
    )


@app.post("/alerts")
def post_alert() -> Response[str]:
    payload = parse_json(raw_body(app.current_event), limit=MAX_BODY)
    request = AlertRequest.model_validate(payload)
    key = app.current_event.headers.get("idempotency-key")
    if not key:
        outcome = _send(request)
        return json_response(outcome["status_code"], outcome["body"])
    try:
        outcome = _send_once(request={"key": key, "body": payload}, parsed=request)
    except IdempotencyValidationError:
        return json_response(422, {"message": "Idempotency-Key was used with a different body"})
    except IdempotencyAlreadyInProgressError:
        return json_response(409, {"message": "a request with this Idempotency-Key is still being processed"})
    return json_response(outcome["status_code"], outcome["body"])


def _send(request: AlertRequest, alert_id: str | None = None) -> dict[str, Any]:
    outcome = alerts.create_and_send(
        request,
        alert_id=alert_id,
        repo=repository(),
        woosh=woosh,
        settings=get_settings(),
        now=utc_now(),
        deadline=remaining_deadline(get_settings(), _remaining_ms()),
    )
    return {"status_code": outcome.status_code, "body": outcome.body}


def _send_once(request: dict[str, Any], parsed: AlertRequest) -> dict[str, Any]:
    # Built per call so the persistence layer uses the current client and table.
    @idempotent_function(
        data_keyword_argument="request", config=_idempotency, persistence_store=_persistence()
    )
    def send(request: dict[str, Any]) -> dict[str, Any]:
        # The same key and body name the same alert: a retry after an attempt that died half
        # way (the idempotency record is dropped on an exception) resumes it, never resends.
        return _send(parsed, alert_id=_alert_id_for(request))

    return send(request=request)  # type: ignore[no-any-return]


def _alert_id_for(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@app.get("/alerts/<alert_id>")
def get_alert(alert_id: str) -> Response[str]:
    repo = repository()
    alert = repo.get_alert(alert_id) if _ALERT_ID.match(alert_id) else None
    if alert is None:
        return json_response(404, {"message": f"no alert {alert_id[:64]}"})
    return json_response(200, alerts.alert_view(alert, repo.get_messages(alerts.message_ids(alert))))


@app.post("/alerts/<alert_id>/close")
def close_alert(alert_id: str) -> Response[str]:
    raw = raw_body(app.current_event)
    close = CloseRequest.model_validate(parse_json(raw, limit=MAX_BODY) if raw.strip() else {})
    repo = repository()
    alert = (
        repo.close_alert(alert_id, closed_at=iso(utc_now()), reason=close.reason)
        if _ALERT_ID.match(alert_id)
        else None
    )
    if alert is None:
        return json_response(404, {"message": f"no alert {alert_id[:64]}"})
    logger.info("alert closed", extra={"alert_id": alert_id})
    return json_response(200, alerts.alert_view(alert, repo.get_messages(alerts.message_ids(alert))))


@app.not_found
def not_found(_exc: Exception) -> Response[str]:
    return route_not_found(app.current_event.path, ROUTES)


@app.exception_handler(BadRequest)
def bad_request(exc: BadRequest) -> Response[str]:
    return json_response(exc.status_code, exc.body)


@app.exception_handler(ValidationError)
def invalid(exc: ValidationError) -> Response[str]:
    return json_response(400, validation_errors(exc))


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response[str]:
    logger.exception("request failed")
    return json_response(503, {"message": "temporarily unavailable, please retry"})


def _remaining_ms() -> int | None:
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _idempotency.register_lambda_context(context)
    return app.resolve(event, context)
