"""schemathesis against the handlers in-process: no 5xx, every answer conforms to openapi.yaml.

A small WSGI app plays API Gateway (HTTP API, payload 2.0): each request becomes the same event
tests/support/harness.http_event builds and is handed to the handler its route names in
template.yaml; AWS is moto and Woosh the stand-in (the `service` fixture). IAM (SigV4) is API
Gateway's job and is not enforced here (tests/unit/test_openapi.py checks the routes carry it).
Bounded and derandomized, so the run is short and repeatable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.wrappers import Request, Response

from tests.support.harness import LOCAL_SECRET, ROOT, handler_module, http_event, lambda_context, to_result

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES: Counter[str] = Counter()
STATUSES: Counter[str] = Counter()

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")


class ApiGateway:
    """WSGI -> API Gateway HTTP API event -> the handler named by the route -> WSGI response."""

    def __init__(self, *, sign_webhook: bool = False) -> None:
        self.sign_webhook = sign_webhook

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if path == "/webhook":
            function = "webhook"
        elif (path == "/alerts" and request.method == "GET") or path == "/status" or path.startswith("/desk"):
            function = "desk"
        elif path == "/alerts" or path.startswith("/alerts/"):
            function = "send"
        else:
            return Response('{"message":"Not Found"}', 404, content_type="application/json")(
                environ, start_response
            )
        if "Authorization" not in request.headers and function != "webhook" and path != "/desk":
            # API Gateway's IAM or JWT authoriser refuses a call without a credential before
            # any function runs. (Signatures and tokens themselves are not checked here.)
            status, message = (401, "Unauthorized") if path.startswith("/desk/") else (403, "Forbidden")
            return Response(f'{{"message":"{message}"}}', status, content_type="application/json")(
                environ, start_response
            )
        raw = request.get_data()
        headers = dict(request.headers.items())
        if self.sign_webhook and function == "webhook" and request.method == "POST":
            digest = hmac.new(LOCAL_SECRET["webhook_secret"].encode(), raw, hashlib.sha256).hexdigest()
            headers = {k: v for k, v in headers.items() if k.lower() != "x-hub-signature-256"}
            headers["X-Hub-Signature-256"] = "sha256=" + digest
        try:
            raw.decode("utf-8")
            as_base64 = False
        except UnicodeDecodeError:  # API Gateway base64-encodes a body that is not text
            as_base64 = True
        event = http_event(
            request.method,
            path,
            body=raw or None,
            headers=headers,
            query={k: ",".join(request.args.getlist(k)) for k in request.args},
            base64_body=as_base64,
        )
        answer = to_result(handler_module(function).lambda_handler(event, lambda_context(function)))
        response = Response(answer.text, answer.status)
        response.headers.clear()
        for name, value in answer.headers.items():
            response.headers[name] = value
        return response(environ, start_response)


FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", autouse=True)
def report_examples() -> Iterable[None]:
    yield
    print("\nschemathesis examples per operation:", dict(sorted(EXAMPLES.items())))
    print("schemathesis answers:", dict(sorted(STATUSES.items())))


# The desk page is HTML from functions/desk/page.py (tests/component/test_desk_page.py).
@schema.exclude(path="/desk").parametrize()
@FUZZ
def test_api_conforms(case: Any, service: Any) -> None:
    response = case.call(app=ApiGateway())
    EXAMPLES[f"{case.method} {case.path}"] += 1
    STATUSES[f"{case.method} {case.path} {response.status_code}"] += 1
    case.validate_response(response, checks=CHECKS)


@schema.include(method="POST", path="/webhook").parametrize()
@FUZZ
def test_signed_webhook_payloads_conform(case: Any, service: Any) -> None:
    """Past the signature: arbitrary signed bodies reach the parser, never a 5xx."""
    response = case.call(app=ApiGateway(sign_webhook=True))
    EXAMPLES["POST /webhook (signed)"] += 1
    STATUSES[f"POST /webhook (signed) {response.status_code}"] += 1
    # The gateway signs every body, so a case that leaves the header out is not refused here.
    case.validate_response(response, checks=[c for c in CHECKS if c is not negative_data_rejection])
