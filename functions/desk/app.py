"""The rescue desk (SPEC §13): the alert list, one alert's story, the service's health and the page.

Read-only: this function's role may read the table, the queues' sizes and the alarms, never
write or send. `GET /alerts` and `GET /status` are the ticketing system's (IAM); the page's
`/desk/api/...` are the same bodies behind the HTTP API's JWT authorizer (Cognito).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows import desk_page, list_alerts, read_alerts, service_status
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.http import html_response, json_response, register_http_errors, resolve
from lift_alerts.platform.observability import logger, metrics, tracer

get_settings()  # a configuration error fails the cold start, naming the variable

ROUTES = {
    "/alerts": {"GET", "POST"},  # POST /alerts is the send function's (a 405 says so)
    "/status": {"GET"},
    "/desk": {"GET"},
    "/desk/api/alerts": {"GET"},
    "/desk/api/alerts/{alert_id}": {"GET"},
    "/desk/api/status": {"GET"},
}
# Data about people: never kept by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}
PAGE_FILE = Path(__file__).with_name("page.py")

app = APIGatewayHttpResolver()
register_http_errors(app, ROUTES, validation_is_bad_input=True, fault_message="desk request failed")


@app.get("/alerts")
@app.get("/desk/api/alerts")
def get_alerts() -> Response[str]:
    request = list_alerts.AlertListRequest.model_validate(app.current_event.query_string_parameters or {})
    return json_response(200, list_alerts.list_alerts(request, get_settings()), NO_STORE)


@app.get("/desk/api/alerts/<alert_id>")
def get_alert(alert_id: str) -> Response[str]:
    view = read_alerts.find_alert(alert_id, get_settings())
    if view is None:
        return json_response(404, {"message": f"no alert {alert_id[:64]}"}, NO_STORE)
    return json_response(200, view, NO_STORE)


@app.get("/status")
@app.get("/desk/api/status")
def get_status() -> Response[str]:
    return json_response(200, service_status.service_status(get_settings()), NO_STORE)


@app.get("/desk")
def get_page() -> Response[str]:
    settings = get_settings()
    page = _render_page()(desk_page.page_config(settings))
    return html_response(page, connect_to=desk_page.connect_sources(settings))


@cache
def _render_page() -> Callable[[Mapping[str, object]], str]:
    """`render_page` of page.py beside this file, imported on the first request for the page:
    the API routes never load it (and a build without the page still answers them)."""
    spec = importlib.util.spec_from_file_location("desk_page_module", PAGE_FILE)
    if spec is None or spec.loader is None or not PAGE_FILE.is_file():
        raise FileNotFoundError(f"{PAGE_FILE.name} is not part of this build")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    render: Callable[[Mapping[str, object]], str] = module.render_page
    return render


# The correlation id (the request's id) is set by platform.http.resolve.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
