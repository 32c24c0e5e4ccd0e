"""Give moto's DynamoDB the per-item atomicity real DynamoDB guarantees.

DynamoDB applies each write (a conditional UpdateItem included) atomically, and the
service's race guarantees (one first tap, one claim per escalation round) rest on that.
moto evaluates a condition and applies the update without a lock, so two threads can both
read the old item and one write is lost: a gap in the emulator, not behaviour to test
against. This serialises moto's item operations, in-process and in moto server alike.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_write_items",
    "transact_get_items",
)
_lock = threading.RLock()
_applied = False


def make_moto_dynamodb_atomic() -> None:
    global _applied  # noqa: PLW0603 - patch once per process
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    for name in _ITEM_OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, serialised)
    _applied = True
