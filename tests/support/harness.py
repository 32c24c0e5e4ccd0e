"""Test fixtures on local/'s emulator: template.yaml's functions in-process, the events API
Gateway and the DynamoDB stream hand them, and what a client sees of their answers.

Nothing here emulates AWS a second time: loading the template, importing a handler, its
Lambda context, the API Gateway event and the stream event source all come from `local/`
(the same code `make local` and `local.invoke` run). What stays here is what only tests need:
the test secret, a handler called by its directory name, an answer read like an HTTP client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from local.account import ACCOUNT_ID
from local.apigw import Route, map_result, request_event, template_routes
from local.lambda_runtime import LambdaContext as _LambdaContext
from local.lambda_runtime import function_context, load_function_module
from local.provision import create_table
from local.pumps import StreamPump as _LocalStreamPump
from local.template import REPO_ROOT, TEMPLATE_PATH, FunctionSpec, Template, load_template

ROOT = REPO_ROOT
TEMPLATE = TEMPLATE_PATH
REGION = "af-south-1"
LOCAL_SECRET = {
    "woosh_api_key": "test-woosh-key",
    # Both webhook credentials: the Bridge's Bearer token (the documented local value) and the
    # HMAC secret that Meta-style signatures in the tests are made with.
    "callback_token": "local-callback-token",
    "webhook_secret": "test-webhook-secret",
    "verify_token": "test-verify-token",
}

__all__ = [
    "LOCAL_SECRET",
    "REGION",
    "ROOT",
    "TEMPLATE",
    "HttpResult",
    "LambdaContext",
    "StreamPump",
    "container_module",
    "create_alerts_table",
    "function_spec",
    "handler_module",
    "http_event",
    "lambda_context",
    "load_template",
    "timer_context",
    "to_result",
]


@cache
def _template() -> Template:
    return Template.load()


@cache
def _routes() -> tuple[Route, ...]:
    return tuple(template_routes(_template()))


@cache
def function_spec(name: str) -> FunctionSpec:
    """The template's function whose code is functions/<name>/."""
    for spec in _template().functions().values():
        if spec.code_uri.name == name:
            return spec
    raise KeyError(f"no function with CodeUri functions/{name}/ in template.yaml")


def create_alerts_table(ddb: Any, name: str) -> None:
    """The AlertsTable of template.yaml, as the local stack creates it."""
    create_table(ddb, name, _template().resources["AlertsTable"].properties)


def lambda_context(function: str) -> _LambdaContext:
    """A fresh invocation's context for functions/<function>/ (its Timeout and memory)."""
    return function_context(
        function_spec(function), function_name=function, region=REGION, account_id=ACCOUNT_ID
    )


def timer_context() -> _LambdaContext:
    """The escalation timer's context: it stops taking alerts when a round would no longer fit."""
    return lambda_context("escalation")


def LambdaContext(function_name: str) -> _LambdaContext:
    """`lambda_context` under the name Powertools' examples use."""
    return lambda_context(function_name)


@cache
def handler_module(name: str) -> ModuleType:
    """functions/<name>/app.py, imported once under a distinct module name (all are app.py)."""
    return load_function_module(function_spec(name), f"functions_{name}_app")


def container_module(name: str, container: str) -> ModuleType:
    """functions/<name>/app.py imported afresh as another container: its own module state
    (clients, caches, cold-start checks), as a second Lambda instance would have."""
    return load_function_module(function_spec(name), f"{container}_{name}_app")


def http_event(
    method: str,
    path: str,
    *,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) event for this request, routed by the template.

    `base64_body` sends the body as binary (`application/octet-stream`): API Gateway then
    base64-encodes it, as it does for any body that is not UTF-8 text.
    """
    if isinstance(body, dict | list):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    # One value per header name, whatever its case (the last given wins): a dict of headers is
    # one request's headers, not two headers of the same name (API Gateway would join those).
    sent = {name.lower(): value for name, value in (headers or {}).items()}
    if base64_body:
        sent["content-type"] = "application/octet-stream"
    return request_event(_routes(), method, path, body=raw, headers=sent, query=query, account_id=ACCOUNT_ID)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def to_result(response: Any) -> HttpResult:
    """What an HTTP client receives for a handler's answer (API Gateway's mapping)."""
    status, headers, body = map_result(response)
    return HttpResult(status, dict(headers), body.decode())


class StreamPump:
    """One consumer's position on the table's stream (local's event source mapping), fed by hand.

    `drain(handler)` delivers every new record to `handler(event, context)` in one pass, as
    Lambda would (batches, `batchItemFailures`, retries); a batch still failing after its
    retries raises, because a test must not lose records silently.
    """

    def __init__(self, table_name: str, region: str, endpoint_url: str | None = None) -> None:
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None
        self._where = (table_name, region, endpoint_url)
        self._pump = self._open()
        self.delivered = 0

    def _open(self) -> _LocalStreamPump:
        table_name, region, endpoint_url = self._where
        return _LocalStreamPump(
            table_name,
            self._deliver,
            starting_position="TRIM_HORIZON",
            max_attempts=5,
            backoff_seconds=0.0,
            endpoint_url=endpoint_url,
            region=region,
        )

    def reread(self) -> None:
        """Start again from the oldest record, as an event source does with records it never
        checkpointed (after an outage outlasted the retries)."""
        self._pump = self._open()

    def _deliver(self, event: dict[str, Any]) -> Any:
        assert self._handler is not None
        return self._handler(event, lambda_context("publisher"))

    def drain(self, handler: Callable[[dict[str, Any], Any], Any]) -> int:
        self._handler = handler
        result = self._pump.poll(sleep=lambda _seconds: None)
        if result.given_up:
            raise RuntimeError(
                f"stream batch still failing after {self._pump.max_attempts} attempts: {result.errors}"
            )
        self.delivered += result.records
        return result.records
