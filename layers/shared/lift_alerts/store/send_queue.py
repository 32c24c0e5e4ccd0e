"""The send queue's items (SPEC §11): messages that got no send slot before their deadline,
waiting for the dispatcher, and the dispatcher's turn.

Each waiting message is one item of the alerts table in the sparse index `QueueIndex`
(`queue_shard` = "queued", sorted by `queue_key`, the sending order of `domain.queue_order`):
`queued#<alert_id>#<round>#<phone>` for a first alert or a reminder,
`queued#<alert_id>#<ledger>#<key>` for every other kind (the alert map its send is recorded
in, and its key there). A dispatcher claims an item with a conditional write (a lease) before
sending and deletes it once recorded. A new item is held for HOLD_SECONDS, so the request that
queued it has recorded it as queued before a dispatcher can send it (else that record could
overwrite the dispatcher's). One dispatcher drains at a time (a lease on `dispatcher#turn`), so
the order of the index is the order of sending. `wake_dispatcher` rings its doorbell (SQS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from lift_alerts.platform.aws import client
from lift_alerts.platform.observability import logger
from lift_alerts.store.codec import from_item, to_item
from lift_alerts.store.table import NotWritten, Table, Written, written

QUEUE_SHARD = "queued"
QUEUE_INDEX = "QueueIndex"
TURN_KEY = {"pk": {"S": "dispatcher#turn"}}
# A new item waits this long before a dispatcher may take it (module docstring).
HOLD_SECONDS = 2


@dataclass(frozen=True)
class QueuedSend:
    """One waiting message: whose, which round, what kind, and its place in the queue.

    `ledger`/`key`: where its send is recorded on the alert, for every kind but first alerts
    and reminders (those are recorded per round). `content`: the channels and bodies of a
    text kept as it was worded (`StoredContent`), None for kinds rendered from the alert.
    """

    alert_id: str
    round_no: int
    to: str
    kind: str
    queue_key: str
    lease_until: int | None = None
    ledger: str | None = None
    key: str | None = None
    content: dict[str, Any] | None = None
    not_before: int | None = None

    @property
    def pk(self) -> str:
        if self.ledger is not None:
            return f"queued#{self.alert_id}#{self.ledger}#{self.key}"
        return f"queued#{self.alert_id}#{self.round_no}#{self.to}"

    def ready(self, now: int) -> bool:
        free = self.lease_until is None or self.lease_until < now
        return free and (self.not_before is None or self.not_before <= now)

    @classmethod
    def of(cls, item: dict[str, Any]) -> QueuedSend:
        lease, not_before = item.get("lease_until"), item.get("not_before")
        return cls(
            alert_id=str(item["alert_id"]),
            round_no=int(item["round_no"]),
            to=str(item["to"]),
            kind=str(item["kind"]),
            queue_key=str(item["queue_key"]),
            lease_until=int(lease) if lease is not None else None,
            ledger=str(item["ledger"]) if item.get("ledger") else None,
            key=str(item["key"]) if item.get("key") is not None else None,
            content=item.get("content"),
            not_before=int(not_before) if not_before is not None else None,
        )


class SendQueue(Table):
    """Data access for the queue items and the dispatcher's turn (see the module docstring)."""

    def enqueue(self, entries: list[QueuedSend], *, enqueued_at: int, expires_at: int) -> None:
        """Store each entry once (a resumed request that enqueues again changes nothing)."""
        for entry in entries:
            item: dict[str, Any] = {
                "pk": entry.pk,
                "alert_id": entry.alert_id,
                "round_no": entry.round_no,
                "to": entry.to,
                "kind": entry.kind,
                "queue_shard": QUEUE_SHARD,
                "queue_key": entry.queue_key,
                "enqueued_at": enqueued_at,
                "not_before": enqueued_at + HOLD_SECONDS,
                "expires_at": expires_at,
            }
            if entry.ledger is not None:
                item.update(ledger=entry.ledger, key=entry.key)
            if entry.content is not None:
                item["content"] = entry.content
            # Not written: the entry is there already.
            written(
                partial(
                    self._db.put_item,
                    TableName=self.table_name,
                    Item=to_item(item),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            )

    def waiting(self, *, limit: int, now: int) -> list[QueuedSend]:
        """The first `limit` entries in priority order that no live run holds."""
        found: list[QueuedSend] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": QUEUE_INDEX,
            "KeyConditionExpression": "queue_shard = :shard",
            "ExpressionAttributeValues": {":shard": {"S": QUEUE_SHARD}},
            "Limit": max(limit * 2, 20),
        }
        while len(found) < limit:
            response = self._db.query(**kwargs)
            for raw in response.get("Items", []):
                entry = QueuedSend.of(from_item(raw))
                if entry.ready(now):
                    found.append(entry)
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    def held(self, *, now: int) -> bool:
        """Whether an entry is waiting out its hold (HOLD_SECONDS): ready within seconds."""
        return self._count("not_before > :now", {":now": {"N": str(now)}}) > 0

    def size(self) -> int:
        return self._count()

    def _count(self, condition: str | None = None, values: dict[str, Any] | None = None) -> int:
        """How many entries wait (those matching `condition`, when given)."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": QUEUE_INDEX,
            "KeyConditionExpression": "queue_shard = :shard",
            "ExpressionAttributeValues": {":shard": {"S": QUEUE_SHARD}, **(values or {})},
            "Select": "COUNT",
        }
        if condition is not None:
            query["FilterExpression"] = condition
        return int(self._db.query(**query).get("Count", 0))

    def claim(self, entry: QueuedSend, *, now: int, lease_until: int) -> QueuedSend | None:
        """Lease the entry for this run; None when it is gone or another live run holds it."""
        leased = written(
            lambda: self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": entry.pk}},
                UpdateExpression="SET lease_until = :lease ADD attempts :one",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now) "
                    "AND (attribute_not_exists(not_before) OR not_before <= :now)"
                ),
                ExpressionAttributeValues={
                    ":lease": {"N": str(lease_until)},
                    ":now": {"N": str(now)},
                    ":one": {"N": "1"},
                },
            )
        )
        if not isinstance(leased, Written):
            return None
        return replace(entry, lease_until=lease_until)

    def done(self, entry: QueuedSend) -> None:
        """Remove an entry this run sent and recorded (only while its lease is ours)."""
        removed = written(
            lambda: self._db.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": entry.pk}},
                ConditionExpression="lease_until = :mine",
                ExpressionAttributeValues={":mine": {"N": str(entry.lease_until)}},
            )
        )
        if not isinstance(removed, Written):
            logger.warning("queued send was taken over before it was removed")

    def release(self, entry: QueuedSend) -> None:
        """Give an entry back (no slot yet): the next run takes it in its turn."""
        written(
            lambda: self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": entry.pk}},
                UpdateExpression="REMOVE lease_until",
                ConditionExpression="lease_until = :mine",
                ExpressionAttributeValues={":mine": {"N": str(entry.lease_until)}},
            )
        )

    def take_turn(self, owner: str, *, now: int, until: int) -> Written[None] | NotWritten:
        """Become the one draining run (or extend this run's turn); not written: another run's turn."""
        return written(
            lambda: self._db.put_item(
                TableName=self.table_name,
                Item={**TURN_KEY, "owner": {"S": owner}, "until": {"N": str(until)}},
                ConditionExpression="attribute_not_exists(pk) OR #until < :now OR #owner = :owner",
                ExpressionAttributeNames={"#until": "until", "#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
            )
        )

    def end_turn(self, owner: str) -> None:
        written(
            lambda: self._db.delete_item(
                TableName=self.table_name,
                Key=TURN_KEY,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        )


def wake_dispatcher() -> None:
    """Tell the dispatcher something is waiting (one SQS message; no queue URL: nothing to do,
    the dispatcher's schedule still finds it)."""
    url = os.environ.get("DISPATCH_QUEUE_URL", "").strip()
    if not url:
        return
    try:
        client("sqs").send_message(QueueUrl=url, MessageBody='{"wake": true}')
    except ClientError:
        # The entries are stored; the schedule picks them up within a minute.
        logger.exception("could not wake the dispatcher")
