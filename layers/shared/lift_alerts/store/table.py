"""What every repository over the alerts table shares: the DynamoDB client, made on first
use, and one answer for a conditional write.

A conditional write either applied (`Written`, with the item after it when the write asked
for it) or found its condition false and changed nothing (`ConditionFailed`, with why, when
the caller acts on the reason, and the item as it was, when the write asked for it). Every
conditional write of the layer answers in this one shape; DynamoDB's error codes are read
here only, and every other error is raised as it came.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from botocore.exceptions import ClientError

from lift_alerts.platform.aws import client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ItemT = TypeVar("ItemT")
ReasonT = TypeVar("ReasonT")
BeforeT = TypeVar("BeforeT")


@dataclass(frozen=True)
class Written(Generic[ItemT]):
    """The write applied; `item` is what it returned (None when it asked for nothing)."""

    item: ItemT

    def __bool__(self) -> Literal[True]:
        return True


@dataclass(frozen=True)
class ConditionFailed(Generic[ReasonT, BeforeT]):
    """The condition was false: nothing changed. `reason` says why; `before` is the item as
    it was (None when the write did not ask DynamoDB for it, or there is no such item)."""

    reason: ReasonT
    before: BeforeT | None = None

    def __bool__(self) -> Literal[False]:
        """Falsy, so `if repo.claim_step(...)` reads as "if it was written"."""
        return False


# A condition whose failure needs no explanation: the caller only knows "not written".
NotWritten = ConditionFailed[Literal["condition_failed"], None]
NOT_WRITTEN: NotWritten = ConditionFailed("condition_failed")


def conditional(
    write: Callable[[], Mapping[str, Any]],
) -> Written[Mapping[str, Any]] | ConditionFailed[Literal["condition_failed"], Mapping[str, Any]]:
    """Run one conditional DynamoDB write: its response, or the old item a failed condition
    returned (`ReturnValuesOnConditionCheckFailure`), never the exception."""
    try:
        return Written(write())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        before: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
        return ConditionFailed("condition_failed", before or None)


def written(write: Callable[[], Mapping[str, Any]]) -> Written[None] | NotWritten:
    """A conditional write whose caller needs only whether it applied."""
    return Written(None) if isinstance(conditional(write), Written) else NOT_WRITTEN


class Table:
    """One DynamoDB table, with its client made on first use (a cold start that needs no
    table pays nothing for it)."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb

    @property
    def _db(self) -> DynamoDBClient:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """One item as it is now (a consistent read), or None."""
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self.table_name, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def _update_if(self, key: dict[str, Any], **update: Any) -> Written[None] | NotWritten:
        """One conditional update whose caller needs only whether it applied."""
        return written(lambda: self._db.update_item(TableName=self.table_name, Key=key, **update))

    def _batch_get(
        self, keys: list[dict[str, Any]], projection: str | None = None, *, consistent: bool = True
    ) -> list[dict[str, Any]]:
        """BatchGetItem over any number of keys, retrying what DynamoDB left unprocessed.

        `consistent=False`: eventually consistent, half the read units (the desk's list, which
        refreshes every few seconds anyway)."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"Keys": keys[start : start + 100], "ConsistentRead": consistent}
            if projection:
                request["ProjectionExpression"] = projection
            for _attempt in range(5):
                response = self._db.batch_get_item(RequestItems={self.table_name: request})  # type: ignore[dict-item]
                items += response.get("Responses", {}).get(self.table_name, [])
                unprocessed: Any = response.get("UnprocessedKeys", {})
                request["Keys"] = unprocessed.get(self.table_name, {}).get("Keys", [])
                if not request["Keys"]:
                    break
                time.sleep(0.05)
        return items
