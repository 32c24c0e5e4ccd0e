"""Give moto's DynamoDB the per-item atomicity real DynamoDB guarantees.

DynamoDB applies each write (a conditional UpdateItem included) atomically, and the
service's race guarantees (one first tap, one claim per escalation round) rest on that.
moto evaluates a condition and applies the update without a lock, so two threads can both
read the old item and one write is lost; its UpdateItem handler also deep-copies the stored
item outside the backend, so a concurrent write can change the item under the copy
("dictionary changed size during iteration"). Both are gaps in the emulator, not behaviour
to test against. This serialises every DynamoDB request as a whole (the response handler,
which parses, calls the backend and renders), in-process and in moto server alike. Requests
still overlap everywhere else (HTTP, boto3, the handlers).

DynamoDB Streams requests are serialised only where they touch the tables (the streams
backend): the records a shard hands out are built when the write happens and never change
after, so rendering them (up to 100 records with both images of an alert: 74 ms a call on
average under a mass alarm, the largest share of all time under the lock) overlaps with
writes safely.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.RLock()
_applied = False


def _serialise(cls: Any, name: str) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return original(self, *args, **kwargs)

    setattr(cls, name, serialised)


def make_moto_dynamodb_atomic() -> None:
    global _applied  # noqa: PLW0603 - patch once per process
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    _serialise(DynamoHandler, "call_action")
    for name in ("describe_stream", "list_streams", "get_shard_iterator", "get_records"):
        _serialise(DynamoDBStreamsBackend, name)
    # Callers that reach the backend without a request (moto's stream plumbing, TTL).
    for name in ("put_item", "update_item", "delete_item", "get_item", "transact_write_items"):
        _serialise(DynamoDBBackend, name)
    _applied = True


def prepare_moto() -> None:
    """Everything this repository changes in moto, wherever moto runs (tests in-process, the
    local stack's moto server, the invoke runner): per-item atomicity, and DynamoDB's item
    answers rendered as plain JSON (`local.moto_json`)."""
    from local.moto_json import render_dynamodb_json_directly

    make_moto_dynamodb_atomic()
    render_dynamodb_json_directly()
