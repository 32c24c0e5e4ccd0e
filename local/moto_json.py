"""Render moto's answers to DynamoDB item requests as plain JSON, not through its model walker.

Since moto 5.2 every DynamoDB answer goes through a generic serializer that walks the
operation's output shape member by member and, for every attribute value of every item,
asks which of AttributeValue's ten members are present. For an alert item (maps of
recipients, messages and rounds) that is most of moto's CPU: under a mass alarm half of the
moto server's time (py-spy, 40 alarms x 3), all of it under the DynamoDB lock that
`moto_atomic` holds around each request. The DynamoDB JSON protocol's body IS that result
as JSON (member names are the keys, binary values base64, timestamps epoch seconds), which
is how moto rendered it before 5.2. So for the item operations below a successful result
is rendered with `json.dumps`; errors, and every other operation, go the generic way.
What the answer says is unchanged: `tests/component/test_moto_json.py` renders the same results
both ways and compares them.
"""

from __future__ import annotations

import base64
import calendar
import functools
import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

CONTENT_TYPE = "application/x-amz-json-1.0"
# Operations whose output is items and simple metadata (no enums with aliases, no members
# renamed on the wire). DynamoDB Streams' GetRecords is the largest answer of all (up to 100
# records with both images of an alert).
ITEM_OPERATIONS = {
    "dynamodb": {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    },
    "dynamodbstreams": {"GetRecords", "GetShardIterator"},
}
_applied = False


def _wire_value(value: object) -> object:
    """What json cannot write itself, as the JSON protocol writes it."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        # As the serializer writes it: a naive time is UTC, truncated to the millisecond.
        seconds = calendar.timegm(value.utctimetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    raise TypeError(f"{type(value).__name__} is not rendered directly")


def _without_none(value: Any) -> Any:
    """The serializer leaves out members that are None; so do we (only dict levels hold them)."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def render_directly(result: object, members: Collection[str] | None = None) -> str | None:
    """The JSON body for `result` (only its `members`, when given: the serializer leaves out
    what the output shape does not name), or None when it must go the generic way."""
    if not isinstance(result, dict):
        return None
    if members is not None:
        result = {key: value for key, value in result.items() if key in members}
    try:
        return json.dumps(_without_none(result), default=_wire_value, separators=(",", ":"))
    except TypeError:
        return None


@functools.cache
def _output_members(service: str, operation: str) -> frozenset[str]:
    from moto.core.utils import get_service_model

    shape = get_service_model(service).operation_model(operation).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def render_dynamodb_json_directly() -> None:
    """Patch moto's DynamoDB and DynamoDB Streams handlers (once per process)."""
    global _applied  # noqa: PLW0603 - patch once per process
    if _applied:
        return
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler, service in ((DynamoHandler, "dynamodb"), (DynamoDBStreamsHandler, "dynamodbstreams")):
        operations = ITEM_OPERATIONS[service]
        generic = handler.serialized

        def serialized(
            self: Any, action_result: ActionResult, *, _generic: Any = generic, _ops: set[str] = operations
        ) -> Any:
            operation = self._get_action()
            if operation in _ops:
                body = render_directly(
                    action_result.result, _output_members(self.boto3_service_name, operation)
                )
                if body is not None:
                    headers = {"Content-Type": CONTENT_TYPE, **self.response_headers}
                    return 200, headers, body
            return _generic(self, action_result)

        setattr(handler, "serialized", serialized)  # noqa: B010 - mypy refuses assigning a method
    _applied = True
