"""The local stack's event-source pumps and API Gateway mapping, against moto in-process."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import EnvironBuilder

from local.apigw import Route, build_event, map_result, select_route
from local.pumps import SqsPump, StreamPump, drain_stream

REGION = "af-south-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> str:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="pump-test",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return "pump-test"


def _put(pk: str, value: str = "v") -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="pump-test", Item={"pk": {"S": pk}, "value": {"S": value}}
    )


class Recorder:
    def __init__(self, answers: list[Any] | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self._answers = answers or []

    def __call__(self, event: dict[str, Any]) -> Any:
        self.batches.append(event["Records"])
        answer = self._answers.pop(0) if self._answers else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise answer
        return answer(event) if callable(answer) else answer

    def keys(self) -> list[list[str]]:
        return [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in self.batches]


def test_stream_records_have_lambdas_shape(table: str) -> None:
    _put("a")
    _put("a", "changed")
    handler = Recorder()

    result = drain_stream(table, handler, region=REGION)

    assert result.records == 2
    first, second = handler.batches[0]
    assert first["eventName"] == "INSERT"
    assert second["eventName"] == "MODIFY"
    assert first["eventSource"] == "aws:dynamodb"
    assert first["awsRegion"] == REGION
    assert first["eventSourceARN"].startswith(f"arn:aws:dynamodb:{REGION}:")
    assert second["dynamodb"]["OldImage"]["value"] == {"S": "v"}
    assert second["dynamodb"]["NewImage"]["value"] == {"S": "changed"}
    assert second["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(second["dynamodb"]["ApproximateCreationDateTime"], int)
    assert int(second["dynamodb"]["SequenceNumber"]) > int(first["dynamodb"]["SequenceNumber"])


def test_stateful_pump_delivers_only_new_records(table: str) -> None:
    handler = Recorder()
    pump = StreamPump(table, handler, starting_position="TRIM_HORIZON", region=REGION)
    _put("a")
    pump.drain()
    _put("b")
    pump.drain()
    assert pump.drain().invocations == 0
    assert handler.keys() == [["a"], ["b"]]


def test_batch_item_failure_redelivers_from_the_failed_record(table: str) -> None:
    for pk in ("a", "b", "c"):
        _put(pk)

    def fail_b(event: dict[str, Any]) -> dict[str, Any]:
        failed = event["Records"][1]["dynamodb"]["SequenceNumber"]
        return {"batchItemFailures": [{"itemIdentifier": failed}]}

    handler = Recorder([fail_b])
    result = drain_stream(table, handler, region=REGION)

    assert handler.keys() == [["a", "b", "c"], ["b", "c"]]
    assert result.records == 3
    assert result.retries == 1


def test_handler_error_retries_the_batch_then_gives_up_to_the_failure_queue(table: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="pump-dlq")["QueueUrl"]
    _put("a")
    handler = Recorder([RuntimeError("down")] * 5)
    pump = StreamPump(
        table,
        handler,
        starting_position="TRIM_HORIZON",
        max_attempts=3,
        backoff_seconds=0.0,
        on_failure_queue_url=dlq,
        region=REGION,
    )

    result = pump.drain()

    assert handler.keys() == [["a"], ["a"], ["a"]]
    assert result.given_up == 1
    [message] = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == pump.stream_arn


def test_malformed_batch_item_failures_fail_the_whole_batch(table: str) -> None:
    _put("a")
    _put("b")
    handler = Recorder([{"batchItemFailures": [{"itemIdentifier": ""}]}])
    drain_stream(table, handler, region=REGION)
    assert handler.keys() == [["a", "b"], ["a", "b"]]


def test_sqs_pump_deletes_successes_and_keeps_failures(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="parked-test")["QueueUrl"]
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        seen.extend(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "two"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    pump = SqsPump(url, handler, retry_visibility_seconds=0, region=REGION)
    result = pump.poll()

    assert result.records == 1
    assert result.retries == 1
    record = seen[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":parked-test")
    assert record["awsRegion"] == REGION
    assert "ApproximateReceiveCount" in record["attributes"]
    remaining = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in remaining] == ["two"]


ROUTES = [
    Route("POST", "/alerts", "Send"),
    Route("ANY", "/alerts", "Send"),
    Route("GET", "/alerts/{alert_id}", "Send"),
    Route("ANY", "/alerts/{alert_id}", "Send"),
    Route("ANY", "/alerts/{alert_id}/close", "Send"),
    Route("ANY", "/files/{proxy+}", "Files"),
    Route("ANY", "/webhook", "Webhook"),
]


@pytest.mark.parametrize(
    ("method", "path", "route_key", "params"),
    [
        ("POST", "/alerts", "POST /alerts", {}),
        ("DELETE", "/alerts", "ANY /alerts", {}),
        ("GET", "/alerts/abc", "GET /alerts/{alert_id}", {"alert_id": "abc"}),
        ("PUT", "/alerts/abc", "ANY /alerts/{alert_id}", {"alert_id": "abc"}),
        ("POST", "/alerts/abc/close", "ANY /alerts/{alert_id}/close", {"alert_id": "abc"}),
        ("GET", "/files/a/b/c", "ANY /files/{proxy+}", {"proxy": "a/b/c"}),
        ("GET", "/nope", None, None),
        ("GET", "/alerts/abc/other", None, None),
        ("GET", "/files", None, None),
    ],
)
def test_route_selection_like_api_gateway(
    method: str, path: str, route_key: str | None, params: dict[str, str] | None
) -> None:
    selected = select_route(ROUTES, method, path)
    if route_key is None:
        assert selected is None
    else:
        assert selected is not None
        assert selected[0].route_key == route_key
        assert selected[1] == params


def test_event_is_api_gateway_http_api_v2() -> None:
    request = EnvironBuilder(
        method="POST",
        path="/alerts/abc/close",
        query_string="a=1&a=2&b=",
        headers=[("X-Custom", "One"), ("Cookie", "s=1; t=2"), ("Content-Type", "application/json")],
        data=b'{"reason": "x"}',
    ).get_request()
    event = build_event(request, ROUTES[4], {"alert_id": "abc"}, account_id="123456789012")
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /alerts/{alert_id}/close"
    assert event["rawPath"] == "/alerts/abc/close"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"]["x-custom"] == "One"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["pathParameters"] == {"alert_id": "abc"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"
    assert isinstance(event["requestContext"]["timeEpoch"], int)
    assert event["body"] == '{"reason": "x"}'
    assert event["isBase64Encoded"] is False


def test_binary_and_invalid_utf8_bodies_are_base64() -> None:
    for content_type, data in (("application/octet-stream", b"abc"), ("application/json", b"\xff\xfe")):
        request = EnvironBuilder(
            method="POST", path="/webhook", data=data, content_type=content_type
        ).get_request()
        event = build_event(request, ROUTES[-1], {}, account_id="123456789012")
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == data


def test_result_mapping_like_api_gateway() -> None:
    assert map_result({"statusCode": 204}) == (204, [], b"")
    status, headers, body = map_result(
        {
            "statusCode": 200,
            "headers": {"X-A": "1"},
            "cookies": ["c=1"],
            "body": "aGk=",
            "isBase64Encoded": True,
        }
    )
    assert (status, body) == (200, b"hi")
    assert ("Set-Cookie", "c=1") in headers
    assert map_result({"hello": "world"}) == (
        200,
        [("Content-Type", "application/json")],
        b'{"hello": "world"}',
    )
