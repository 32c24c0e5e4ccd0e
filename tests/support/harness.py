"""Test harness: the template's AWS resources in moto, the handlers, and Lambda's plumbing.

AWS is moto (in-process here, moto server in the integration tests); Woosh is the stand-in
HTTP server on loopback. Nothing of boto3 is faked by hand.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LOCAL_SECRET = {
    "woosh_api_key": "test-woosh-key",
    # Both webhook credentials: the Bridge's Bearer token (the documented local value) and the
    # HMAC secret that Meta-style signatures in the tests are made with.
    "callback_token": "local-callback-token",
    "webhook_secret": "test-webhook-secret",
    "verify_token": "test-verify-token",
}


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation's short-form tags as plain data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def create_alerts_table(ddb: Any, name: str) -> None:
    """The AlertsTable of template.yaml, as the template defines it."""
    props = load_template()["Resources"]["AlertsTable"]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ddb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:af-south-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.monotonic() + 29)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def timer_context() -> LambdaContext:
    """A context with the escalation function's own Timeout from template.yaml: the timer stops
    taking alerts when a round would no longer fit (the default 29 s is the API's limit)."""
    props = load_template()["Resources"]["EscalationFunction"]["Properties"]
    timeout = float(props.get("Timeout") or load_template()["Globals"]["Function"]["Timeout"])
    return LambdaContext(function_name="escalation", deadline=time.monotonic() + timeout)


_HANDLERS: dict[str, ModuleType] = {}


def handler_module(name: str) -> ModuleType:
    """functions/<name>/app.py, loaded once under a distinct module name (all are app.py)."""
    if name not in _HANDLERS:
        path = ROOT / "functions" / name / "app.py"
        spec = importlib.util.spec_from_file_location(f"functions_{name}_app", path)
        assert spec
        assert spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _HANDLERS[name] = module
    return _HANDLERS[name]


def http_event(
    method: str,
    path: str,
    *,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
    route_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as API Gateway builds it."""
    if isinstance(body, dict | list):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    query = query or {}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "t",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if raw is not None:
        event["body"] = (
            base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8", "surrogateescape")
        )
    return event


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def to_result(response: dict[str, Any]) -> HttpResult:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return HttpResult(int(response["statusCode"]), dict(response.get("headers") or {}), body)


class StreamPump:
    """Plays Lambda's DynamoDB stream event source: records -> handler, retry from a failure."""

    def __init__(self, table_name: str, region: str, endpoint_url: str | None = None) -> None:
        kwargs = (
            {"region_name": region, "endpoint_url": endpoint_url} if endpoint_url else {"region_name": region}
        )
        self._ddb = boto3.client("dynamodb", **kwargs)
        self._streams = boto3.client("dynamodbstreams", **kwargs)
        self._arn = self._ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str] = {}
        self.delivered = 0

    def _fetch(self) -> list[dict[str, Any]]:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        records: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = self._streams.get_records(ShardIterator=self._iterators[shard_id], Limit=1000)
            self._iterators[shard_id] = response["NextShardIterator"]
            records += response["Records"]
        return records

    def drain(self, handler: Any, *, batch_size: int = 100, max_attempts: int = 5) -> int:
        """Deliver every new record in batches; honour batchItemFailures like Lambda does."""
        records = [_lambda_record(r, self._arn) for r in self._fetch()]
        start = 0
        attempts = 0
        while start < len(records):
            batch = records[start : start + batch_size]
            answer = handler({"Records": batch}, LambdaContext(function_name="publisher")) or {}
            failures = answer.get("batchItemFailures") or []
            if not failures:
                start += len(batch)
                attempts = 0
                continue
            attempts += 1
            if attempts >= max_attempts:
                raise RuntimeError(f"stream batch still failing after {attempts} attempts")
            failed_seq = failures[0]["itemIdentifier"]
            start += next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] == failed_seq)
        self.delivered += len(records)
        return len(records)


def _lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    dynamodb = dict(record["dynamodb"])
    dynamodb.pop("ApproximateCreationDateTime", None)
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "af-south-1"),
        "dynamodb": dynamodb,
        "eventSourceARN": arn,
    }
