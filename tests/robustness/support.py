"""Helpers for the robustness suite: botocore fault hooks, parked-queue draining, log checks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lift_alerts.platform import aws
from tests.support.harness import handler_module, lambda_context
from tests.support.service import Service

SECRETS = ("test-webhook-secret", "test-verify-token", "test-woosh-key")
PHONE = re.compile(r"(?<![\d*])\d{10,15}(?![\d*])")


@dataclass
class Fault:
    """Counts how often an injected fault fired."""

    fired: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@contextmanager
def inject(
    service: str,
    operation: str | None,
    code: str = "ProvisionedThroughputExceededException",
    *,
    times: int | None = None,
    when: str = "before",
    match: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[Fault]:
    """Make `operation` (or every operation) of the code's cached client raise `code`.

    `when="before"`: the call never reaches AWS. `when="after"`: AWS applied it, but the answer
    is lost on the way back (the client sees an error). `times=None`: until the block ends.
    """
    fault = Fault()
    client = aws.client(service)  # type: ignore[call-overload]
    service_id = client.meta.service_model.service_id.hyphenize()
    event = f"{when}-call.{service_id}.{operation or '*'}"
    if operation is None:
        event = f"{when}-call.{service_id}"

    def remember(**kwargs: Any) -> None:
        # after-call has no request: botocore hands both hooks of one call the same context.
        kwargs["context"]["fault_params"] = _api_params(kwargs.get("params") or {})

    def hook(**kwargs: Any) -> None:
        if when == "after":
            params = kwargs["context"].get("fault_params", {})
        else:
            params = _api_params(kwargs.get("params") or {})
        model = kwargs.get("model")
        if match is not None and not match(params):
            return
        if times is not None and fault.fired >= times:
            return
        fault.fired += 1
        fault.calls.append(params)
        status = 500 if code in ("InternalServerError", "InternalFailure", "ServiceUnavailable") else 400
        raise client_error(code, model.name if model is not None else str(operation), status)

    before = event.replace("after-call", "before-call", 1)
    if when == "after":
        client.meta.events.register(before, remember, unique_id=f"fault-params-{id(fault)}")
    client.meta.events.register(event, hook, unique_id=f"fault-{id(fault)}")
    try:
        yield fault
    finally:
        client.meta.events.unregister(event, unique_id=f"fault-{id(fault)}")
        if when == "after":
            client.meta.events.unregister(before, unique_id=f"fault-params-{id(fault)}")


def _api_params(request: dict[str, Any]) -> dict[str, Any]:
    """The operation's parameters from a serialized request (JSON protocols)."""
    body = request.get("body")
    if isinstance(body, bytes | str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def on_alert(params: dict[str, Any]) -> bool:
    return str(params.get("Key", {}).get("pk", {}).get("S", "")).startswith("alert#")


def on_message(params: dict[str, Any]) -> bool:
    return str(params.get("Key", {}).get("pk", {}).get("S", "")).startswith("msg#")


def parked_messages(service: Service) -> list[dict[str, Any]]:
    """Take every message off the parked queue, as the event source mapping would."""
    taken: list[dict[str, Any]] = []
    for _ in range(200):
        batch = service.sqs.receive_message(
            QueueUrl=service.parked_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            service.sqs.delete_message(QueueUrl=service.parked_url, ReceiptHandle=message["ReceiptHandle"])
        taken += batch
    return taken


def run_parked(service: Service, messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The parked function over the parked queue's messages (an SQS event)."""
    messages = parked_messages(service) if messages is None else messages
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:af-south-1:123456789012:parked",
                "awsRegion": "af-south-1",
            }
            for m in messages
        ]
    }
    answer = handler_module("parked").lambda_handler(event, lambda_context("parked"))
    return {"records": len(messages), **dict(answer or {})}


def count_items(service: Service) -> int:
    total = 0
    kwargs: dict[str, Any] = {"TableName": service.table, "Select": "COUNT"}
    while True:
        page = service.ddb.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_clean_logs(text: str, phones: list[str] = ()) -> None:  # type: ignore[assignment]
    """No secret and no full phone number in any captured log line."""
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} leaked into the logs"
    for phone in phones:
        digits = phone.lstrip("+")
        assert digits not in text, f"phone number {digits} leaked into the logs"


def response_events(service: Service) -> list[dict[str, Any]]:
    return service.details("Alert Response Received")


def assert_taps_published_once(service: Service, tap_ids: list[str]) -> None:
    events = response_events(service)
    ids = [e["event_id"] for e in events]
    for tap_id in tap_ids:
        assert ids.count(tap_id) == 1, f"tap {tap_id} published {ids.count(tap_id)} times"


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()
