"""The service in moto (in-process) with every AWS request counted by botocore event hooks.

What is counted: requests made through the clients the code itself uses
(`lift_alerts.platform.aws.client(...)`, one cached client per service per container), hooked on
`before-call.*.*`. The benchmark's own setup clients and the stream pump (which plays
Lambda's DynamoDB-stream poller, free for Lambda triggers) are not counted.

The same hooks capture moto's raw HTTP answers; `CannedAws` replays them from a
`before-send` hook (optionally after a sleep), so request serialisation, signing and
response parsing still run but AWS answers instantly (or after exactly N ms).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

SERVICES = ("dynamodb", "events", "sqs", "secretsmanager")
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}
PLATFORM_LOG_BYTES = 350  # START/END/REPORT lines Lambda writes per invocation
# functions/<name> -> its logical id in template.yaml
FUNCTIONS = {
    "send": "SendFunction",
    "webhook": "WebhookFunction",
    "publisher": "PublisherFunction",
    "escalation": "EscalationFunction",
    "parked": "ParkedFunction",
    "followup": "FollowUpFunction",
    "dispatcher": "DispatcherFunction",
}
# The service-wide send budget at a hundredth of Woosh's windows (as the tests run it): the
# bench sends a few dozen messages within seconds and measures work, not waiting.
BENCH_OVERRIDES = {"WOOSH_RATE_TIME_SCALE": "0.01", "WOOSH_RATE_GUARD_MS": "0", "ALERT_TEMPLATE_NAME": ""}


def _key(op: str, params: dict[str, Any]) -> tuple[str, str, str]:
    return (op, str(params.get("UpdateExpression", "")), str(params.get("ConditionExpression", "")))


def _size(value: dict[str, Any]) -> int:
    """DynamoDB's item-size rules, approximately (names + values, numbers ~ digits/2 + 1)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in {"B"}:
        return len(inner)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_size(v) + 1 for v in inner)
    if kind in {"SS", "NS", "BS"}:
        return sum(len(str(v)) for v in inner)
    return 1


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode()) + _size(v) for k, v in (item or {}).items())


def _stored_item_size(params: dict[str, Any]) -> int:
    """Size of the item as moto (in-process) now stores it: DynamoDB bills an update by it."""
    import os

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    try:
        item = backend.get_item(params["TableName"], params["Key"])
    except Exception:  # a bench estimate: an odd key sizes as nothing
        return 0
    return item_size(item.to_json()["Attributes"]) if item else 0


@dataclass
class Tally:
    calls: Counter[str] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0
    log_bytes: int = 0
    invocations: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.total,
            "by_operation": dict(sorted(self.calls.items())),
            "dynamodb_wru": round(self.wru, 2),
            "dynamodb_rru": round(self.rru, 2),
            "log_bytes": self.log_bytes,
            "invocations": dict(self.invocations),
        }


class _Sink(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8", "replace"))
        return len(text)


class Recorder:
    """Counts requests, capacity units and log bytes; captures raw answers for replay."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.canned: dict[tuple[str, str, str], tuple[int, dict[str, str], bytes]] = {}
        self.by_op: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.last_params: dict[str, dict[str, Any]] = {}
        self.params_log: list[tuple[str, dict[str, Any]]] = []  # every call's API parameters
        self._lock = threading.Lock()

    def install(self) -> None:
        from lift_alerts.platform.aws import client

        for service in SERVICES:
            events = client(service).meta.events  # type: ignore[call-overload]
            events.register_first("before-call.*.*", self._before_call)
            events.register("after-call.*.*", self._after_call)
            events.register("response-received.*.*", self._response_received)
            events.register("provide-client-params.*.*", self._api_params)

    @contextlib.contextmanager
    def detached(self) -> Iterator[None]:
        """No counting hooks (for CPU timings: sizing a write from moto's stored item costs more
        than the write itself); CannedAws still answers."""
        from lift_alerts.platform.aws import client

        hooks = (
            ("before-call.*.*", self._before_call),
            ("after-call.*.*", self._after_call),
            ("response-received.*.*", self._response_received),
            ("provide-client-params.*.*", self._api_params),
        )
        for service in SERVICES:
            for event, hook in hooks:
                client(service).meta.events.unregister(event, hook)  # type: ignore[call-overload]
        try:
            yield
        finally:
            self.install()

    @contextlib.contextmanager
    def phase(self) -> Iterator[Tally]:
        """Count into a fresh tally; log output (Powertools logger + EMF metrics) is measured."""
        from lift_alerts.platform.observability import logger

        self.tally = Tally()
        sink = _Sink()
        handler = logger.registered_handler
        old = handler.setStream(sink)  # type: ignore[attr-defined]
        try:
            with contextlib.redirect_stdout(sink):
                yield self.tally
        finally:
            handler.setStream(old)  # type: ignore[attr-defined]
            self.tally.log_bytes += sink.bytes

    def _before_call(
        self, event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        _, service, op = event_name.split(".", 2)
        # `params` is botocore's request dict here: the API parameters are its serialised body.
        try:
            api_params = json.loads(params.get("body") or b"{}")
        except ValueError:
            api_params = {}
        context["bench_key"] = _key(op, api_params)
        context["bench_params"] = api_params
        with self._lock:
            self.tally.calls[f"{service}.{op}"] += 1

    def _api_params(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        """API parameters per operation (to time a bare botocore call in isolation)."""
        op = event_name.split(".", 2)[2]
        with self._lock:
            self.last_params[op] = dict(params)
            self.params_log.append((op, dict(params)))

    def _after_call(self, event_name: str, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        _, service, op = event_name.split(".", 2)
        if service != "dynamodb":
            return
        params = context.get("bench_params", {})
        units = 0.0
        if op in WRITE_OPS:
            size = max(item_size(parsed.get("Attributes")), item_size(params.get("Item")))
            if op == "UpdateItem" and "Attributes" not in parsed and "Error" not in parsed:
                size = max(size, _stored_item_size(params))  # ReturnValues NONE: nothing came back
            units, kind = float(max(1, math.ceil(size / 1024))), "w"
        elif op == "GetItem":
            size = item_size(parsed.get("Item"))
            units, kind = max(1, math.ceil(size / 4096)) * (1 if params.get("ConsistentRead") else 0.5), "r"
        elif op in {"BatchGetItem", "Query"}:
            items = parsed.get("Items") or [i for v in parsed.get("Responses", {}).values() for i in v]
            units, kind = float(sum(max(1, math.ceil(item_size(i) / 4096)) for i in items) or 1), "r"
        else:
            return
        with self._lock:
            if kind == "w":
                self.tally.wru += units
            else:
                self.tally.rru += units

    def _response_received(
        self, event_name: str, response_dict: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        _, _service, op = event_name.split(".", 2)
        answer = (int(response_dict["status_code"]), dict(response_dict["headers"]), response_dict["body"])
        key = context.get("bench_key")
        with self._lock:
            if key is not None and (key not in self.canned or self.canned[key][0] >= 300):
                self.canned[key] = answer  # a success is preferred for replay
            if answer[0] < 300:
                self.by_op.setdefault(op, answer)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class CannedAws:
    """AWS answered from captured moto answers, instantly or after `delay` seconds per call."""

    def __init__(self, recorder: Recorder, delay: float = 0.0) -> None:
        self.recorder = recorder
        self.delay = delay
        self.missing: Counter[str] = Counter()

    def __enter__(self) -> CannedAws:
        from lift_alerts.platform.aws import client

        for service in SERVICES:
            client(service).meta.events.register("before-send.*.*", self._answer)  # type: ignore[call-overload]
        return self

    def __exit__(self, *exc: object) -> None:
        from lift_alerts.platform.aws import client

        for service in SERVICES:
            client(service).meta.events.unregister("before-send.*.*", self._answer)  # type: ignore[call-overload]

    def _answer(self, event_name: str, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        op = event_name.split(".", 2)[2]
        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            params = {}
        answer = self.recorder.canned.get(_key(op, params)) or self.recorder.by_op.get(op)
        if answer is None:
            self.missing[op] += 1
            return None
        if self.delay:
            time.sleep(self.delay)
        status, headers, body = answer
        return AWSResponse(request.url, status, headers, _Raw(body))


class Bench:
    """The template's resources in moto (in-process), the handlers and a stand-in Woosh, all
    from the local stack (`local.invoke.in_process_invoker`), with a Recorder installed."""

    def __init__(self) -> None:
        import os

        from local.account import LOCAL_SECRET_VALUES
        from local.apigw import template_routes
        from local.invoke import in_process_invoker
        from local.pumps import StreamPump
        from local.woosh_standin import WooshStandIn

        self._exit = contextlib.ExitStack()
        self.woosh = WooshStandIn(
            api_key=LOCAL_SECRET_VALUES["woosh_api_key"], webhook_secret=LOCAL_SECRET_VALUES["webhook_secret"]
        ).start()
        self._exit.callback(self.woosh.stop)
        os.environ["WOOSH_BASE_URL"] = self.woosh.base_url  # in_process_invoker uses this Woosh
        self.invoker = self._exit.enter_context(in_process_invoker())
        self.routes = template_routes(self.invoker.template)
        self.table = self.invoker.resources.ref("AlertsTable")
        self.recorder = Recorder()
        self._publisher_invocations = 0
        self._pump = StreamPump(self.table, self._filtered_publisher, starting_position="TRIM_HORIZON")
        self._patterns = publisher_filters()
        for function in ("send", "webhook", "publisher"):
            self.invoke(function, {}, warm_only=True)
        self.recorder.install()

    def close(self) -> None:
        self._exit.close()

    # -- the functions, as Lambda runs them ------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any], *, warm_only: bool = False) -> Any:
        """Invoke functions/<function> with its template environment (send budget at a hundredth
        of Woosh's windows, as the tests run it, so a bench of a few dozen sends is not paced)."""
        logical_id = FUNCTIONS[function]
        if warm_only:  # import the handler with its environment (Powertools reads it at import)
            from local.lambda_runtime import apply_environment

            apply_environment(self.invoker.environment(logical_id, BENCH_OVERRIDES))
            self.invoker.runtime(logical_id).warm()
            return None
        return self.invoker.invoke(logical_id, event, overrides=BENCH_OVERRIDES)

    def handler(self, function: str) -> tuple[Callable[..., Any], Any]:
        """The loaded handler of functions/<function> and a Lambda context for it (for timing the
        handler alone: no environment update per call, no context built per call)."""
        import sys

        runtime = self.invoker.runtime(FUNCTIONS[function])
        runtime.warm()
        module = sys.modules[f"lambda_{FUNCTIONS[function]}_1"]
        return getattr(module, runtime.spec.handler_attribute), runtime.context()

    def http(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The API Gateway event for a request, as the local API builds it (local/apigw.py)."""
        from werkzeug.test import EnvironBuilder

        from local.account import ACCOUNT_ID
        from local.apigw import build_event, select_route

        request = EnvironBuilder(
            method=method,
            path=path,
            headers=[("Host", "127.0.0.1:3000"), *(headers or {}).items()],
            data=body,
            environ_base={"REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"},
        ).get_request()
        selected = select_route(self.routes, method, path)
        assert selected is not None, f"no route of template.yaml serves {method} {path}"
        route, params = selected
        return build_event(request, route, params, account_id=ACCOUNT_ID)

    def send_alert(self, recipients: list[str]) -> dict[str, Any]:
        body = {"ticket_id": "EMG-1", "lift_id": "LIFT-A", "site": "Sandton Office Park", "floor": "3"}
        body["recipients"] = recipients  # type: ignore[assignment]
        event = self.http("POST", "/alerts", json.dumps(body).encode(), {"Content-Type": "application/json"})
        answer = self.invoke("send", event)
        assert answer["statusCode"] == 201, answer
        return dict(json.loads(answer["body"]))

    def webhook_headers(self, raw: bytes, credential: str = "bearer") -> dict[str, str]:
        """What the Bridge sends with a forwarded payload (SPEC 6): its callback token as
        `Authorization: Bearer`, or (credential="hub_signature") a Meta-style HMAC signature."""
        from local.account import LOCAL_SECRET_VALUES
        from local.woosh_standin import signature_header

        headers = {"Content-Type": "application/json"}
        if credential == "bearer":
            headers["Authorization"] = f"Bearer {LOCAL_SECRET_VALUES['callback_token']}"
        else:
            headers["X-Hub-Signature-256"] = signature_header(raw, LOCAL_SECRET_VALUES["webhook_secret"])
        return headers

    def webhook(self, payload: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(payload).encode()
        answer = self.invoke("webhook", self.http("POST", "/webhook", raw, self.webhook_headers(raw)))
        assert answer["statusCode"] == 200, answer
        return dict(json.loads(answer["body"]))

    def tap(self, message_id: str, choice_index: int) -> dict[str, Any]:
        return self.webhook(self.woosh.tap(message_id, choice_index, post=False)["payload"])

    def status(self, message_id: str, status: str) -> dict[str, Any]:
        return self.webhook(self.woosh.status(message_id, status, post=False)["payload"])

    @contextlib.contextmanager
    def moto_paused(self) -> Iterator[None]:
        """No moto answers (CannedAws answers instead); moto state is kept."""
        from moto.core.models import botocore_stubber

        was = botocore_stubber.enabled
        botocore_stubber.enabled = False
        try:
            yield
        finally:
            botocore_stubber.enabled = was

    def timed(self, function: str, call: Callable[[], Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - start
        self.recorder.tally.invocations[function] += 1
        return result, elapsed

    def _filtered_publisher(self, event: dict[str, Any]) -> Any:
        patterns = self._patterns
        records = [r for r in event["Records"] if not patterns or any(matches(p, r) for p in patterns)]
        if not records:
            return {"batchItemFailures": []}
        self._publisher_invocations += 1
        return self.invoke("publisher", {"Records": records})

    def publish(self) -> int:
        """Drain the stream into the publisher as Lambda would: records the template's
        FilterCriteria rejects are dropped, and a batch with none left invokes nothing."""
        before = self._publisher_invocations
        result = self._pump.drain(sleep=lambda _s: None)
        assert not result.errors, result
        assert not result.given_up, result
        self.recorder.tally.invocations["publisher"] += self._publisher_invocations - before
        return result.records


def publisher_filters() -> list[dict[str, Any]]:
    """The publisher's stream FilterCriteria patterns from template.yaml (none: every record)."""
    from local.template import Template

    spec = Template.load().functions()[FUNCTIONS["publisher"]]
    for event in spec.events_of("DynamoDB"):
        filters = (event.properties.get("FilterCriteria") or {}).get("Filters") or []
        return [json.loads(f["Pattern"]) for f in filters]
    return []


def matches(pattern: Any, value: Any) -> bool:
    """The subset of Lambda event-filter syntax the template uses: nested keys, literal values,
    and {"prefix": ...}."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches(v, value[k]) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict) and "prefix" in option:
                if isinstance(value, str) and value.startswith(option["prefix"]):
                    return True
            elif option == value:
                return True
        return False
    return bool(pattern == value)
