"""moto's DynamoDB item answers rendered as plain JSON (`local.moto_json`) say exactly what
moto's generic serializer says, for every kind of attribute value and every item operation
the service and its emulator use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from local.moto_json import ITEM_OPERATIONS, render_directly
from tests.support.harness import create_alerts_table

REGION = "af-south-1"
EVERY_KIND = {
    "pk": {"S": "alert#1"},
    "text": {"S": "Lift 3 — floor G, “quoted”"},
    "count": {"N": "42"},
    "ratio": {"N": "-0.125"},
    "blob": {"B": b"\x00\xffbinary"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"x", b"y"]},
    "list": {"L": [{"S": "one"}, {"N": "2"}, {"M": {"deep": {"L": []}}}]},
    "map": {
        "M": {
            "+27820000001": {"M": {"at": {"S": "2024-10-01T10:30:00Z"}, "n": {"N": "1"}}},
            "empty": {"M": {}},
        }
    },
}


@pytest.fixture
def compared() -> Iterator[list[tuple[str, Any, Any]]]:
    """Every answer to an item operation, rendered both ways: (operation, direct, generic)."""
    seen: list[tuple[str, Any, Any]] = []
    saved = {handler: handler.serialized for handler in (DynamoHandler, DynamoDBStreamsHandler)}

    def recording(patched: Any) -> Any:
        def serialized(self: Any, action_result: Any) -> Any:
            answer = patched(self, action_result)
            operation = self._get_action()
            if any(operation in ops for ops in ITEM_OPERATIONS.values()) and not isinstance(
                action_result.result, Exception
            ):
                generic = patched.__kwdefaults__["_generic"](self, action_result)
                seen.append((operation, answer, generic))
            return answer

        return serialized

    for handler, patched in saved.items():
        handler.serialized = recording(patched)
    try:
        with mock_aws():
            yield seen
    finally:
        for handler, patched in saved.items():
            handler.serialized = patched


def test_item_answers_are_the_generic_serializers_answers(compared: list[tuple[str, Any, Any]]) -> None:
    db = boto3.client("dynamodb", region_name=REGION)
    create_alerts_table(db, "t")  # the template's table: its stream has both images
    key = {"pk": {"S": "alert#1"}}
    db.put_item(TableName="t", Item=EVERY_KIND)
    db.put_item(TableName="t", Item={**EVERY_KIND, "count": {"N": "43"}}, ReturnValues="ALL_OLD")
    db.get_item(TableName="t", Key=key, ConsistentRead=True)
    db.get_item(TableName="t", Key={"pk": {"S": "missing"}})
    db.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET #m.#p.n = :n ADD #c :one",
        ExpressionAttributeNames={"#m": "map", "#p": "+27820000001", "#c": "count"},
        ExpressionAttributeValues={":n": {"N": "2"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
        ReturnConsumedCapacity="TOTAL",
    )
    db.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET flag = :f",
        ExpressionAttributeValues={":f": {"BOOL": False}},
    )
    db.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "text"},
        ExpressionAttributeValues={":t": {"S": "x"}},
        ReturnValues="UPDATED_OLD",
    )
    with pytest.raises(db.exceptions.ConditionalCheckFailedException) as failed:
        db.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET flag = :f",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":f": {"BOOL": True}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert failed.value.response["Item"]["blob"] == {"B": b"\x00\xffbinary"}
    db.query(
        TableName="t",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "alert#1"}},
        ReturnConsumedCapacity="TOTAL",
    )
    db.scan(TableName="t", Limit=1)
    db.batch_get_item(RequestItems={"t": {"Keys": [key]}})
    db.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "other"}}}}]})
    db.transact_write_items(
        TransactItems=[{"Update": {"TableName": "t", "Key": key, "UpdateExpression": "REMOVE nothing"}}]
    )
    db.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}])
    db.delete_item(TableName="t", Key={"pk": {"S": "other"}}, ReturnValues="ALL_OLD")
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = db.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])
    assert records["Records"][0]["dynamodb"]["NewImage"]["blobs"] == {"BS": [b"x", b"y"]}

    operations = {operation for operation, _, _ in compared}
    assert operations == ITEM_OPERATIONS["dynamodb"] | ITEM_OPERATIONS["dynamodbstreams"]
    for operation, (status, headers, body), (g_status, g_headers, g_body) in compared:
        assert (operation, status, headers["Content-Type"]) == (
            operation,
            g_status,
            g_headers["Content-Type"],
        )
        assert (operation, json.loads(body)) == (operation, json.loads(g_body))


def test_what_json_cannot_write_goes_the_generic_way() -> None:
    assert render_directly(ValueError("a refusal")) is None
    assert render_directly({"odd": {1, 2}}) is None
    assert render_directly({"Item": {"b": {"B": b"\x01"}}, "Gone": None}) == '{"Item":{"b":{"B":"AQ=="}}}'
