"""The send queue (SPEC §11): messages that got no send slot before their deadline wait here
and the dispatcher sends them, highest priority first, as soon as the budget allows.

Each waiting message is one item of the alerts table, `queued#<alert_id>#<round>#<phone>`,
in the sparse index `QueueIndex` (`queue_shard` = "queued", sorted by `queue_key`). The sort
key is the priority (`queue_key`): first alerts, then entrapment confirmation requests, then
reminders and critical messages, then acknowledgements and notices; among first alerts the
recipient's position comes before the alarm's age, so one recipient of every waiting alarm
goes before the second recipient of any, oldest alarm first.

Exactly-once, as far as a send can be: the dispatcher claims an item with a conditional write
(a lease) before sending; records the send on the alert right after Woosh answered
(`reminders.<round>:<phone>`, like every round); stores the mapping and the recipient's
result; and only then deletes the item. A run that dies after the send record finds it on
the retry and only completes the bookkeeping; a run that dies between Woosh's answer and that
record (milliseconds) sends again once its lease expired: a duplicate alert is safer than a
missing one, as for reminders. One dispatcher drains at a time (a lease on
`dispatcher#turn`), so the order of the index is the order of sending.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from lift_alerts.aws import client
from lift_alerts.clock import epoch, iso, utc_now
from lift_alerts.config import Settings
from lift_alerts.observability import count, logger
from lift_alerts.repository import AlertRepository, alert_key, from_item
from lift_alerts.rounds import all_deliveries_failed
from lift_alerts.sending import (
    QUEUED,
    AlertContent,
    Delivery,
    Enqueue,
    StoredAlert,
    round_records,
    send_messages,
)
from lift_alerts.woosh import WooshClient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

QUEUE_SHARD = "queued"
QUEUE_INDEX = "QueueIndex"
TURN_KEY = {"pk": {"S": "dispatcher#turn"}}
# Longer than one dispatch batch can take (a slot is at most a long window away, plus the send).
LEASE_SECONDS = 150
TURN_SECONDS = 60
BATCH = 10
# Priority classes, lowest first (SPEC §11).
PRIORITY = {"alert": 1, "confirm": 2, "reminder": 3, "critical": 3, "ack": 4, "notice": 4}
_serializer = TypeSerializer()


def queue_key(kind: str, *, position: int, created_ms: int, alert_id: str, round_no: int, to: str) -> str:
    """The sort key that is the sending order of waiting messages (module docstring)."""
    rank = PRIORITY.get(kind, 4)
    if kind == "alert":
        # Position first: every alarm's first recipient before any alarm's second.
        return f"{rank}#{position:04d}#{created_ms:013d}#{alert_id}#{to}"
    return f"{rank}#{created_ms:013d}#{round_no:03d}#{position:04d}#{alert_id}#{to}"


@dataclass(frozen=True)
class QueuedSend:
    """One waiting message: whose, which round, what kind, and its place in the queue."""

    alert_id: str
    round_no: int
    to: str
    kind: str
    queue_key: str
    lease_until: int | None = None

    @property
    def pk(self) -> str:
        return f"queued#{self.alert_id}#{self.round_no}#{self.to}"

    @classmethod
    def of(cls, item: dict[str, Any]) -> QueuedSend:
        lease = item.get("lease_until")
        return cls(
            alert_id=str(item["alert_id"]),
            round_no=int(item["round_no"]),
            to=str(item["to"]),
            kind=str(item["kind"]),
            queue_key=str(item["queue_key"]),
            lease_until=int(lease) if lease is not None else None,
        )


class SendQueue:
    """Data access for the queue items and the dispatcher's turn (see the module docstring)."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb

    @property
    def _db(self) -> DynamoDBClient:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client

    def enqueue(self, entries: list[QueuedSend], *, enqueued_at: int, expires_at: int) -> None:
        """Store each entry once (a resumed request that enqueues again changes nothing)."""
        for entry in entries:
            item = {
                "pk": entry.pk,
                "alert_id": entry.alert_id,
                "round_no": entry.round_no,
                "to": entry.to,
                "kind": entry.kind,
                "queue_shard": QUEUE_SHARD,
                "queue_key": entry.queue_key,
                "enqueued_at": enqueued_at,
                "expires_at": expires_at,
            }
            try:
                self._db.put_item(
                    TableName=self.table_name,
                    Item={k: _serializer.serialize(v) for k, v in item.items()},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

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
                if entry.lease_until is None or entry.lease_until < now:
                    found.append(entry)
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    def size(self) -> int:
        response = self._db.query(
            TableName=self.table_name,
            IndexName=QUEUE_INDEX,
            KeyConditionExpression="queue_shard = :shard",
            ExpressionAttributeValues={":shard": {"S": QUEUE_SHARD}},
            Select="COUNT",
        )
        return int(response.get("Count", 0))

    def claim(self, entry: QueuedSend, *, now: int, lease_until: int) -> QueuedSend | None:
        """Lease the entry for this run; None when it is gone or another live run holds it."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": entry.pk}},
                UpdateExpression="SET lease_until = :lease ADD attempts :one",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)"
                ),
                ExpressionAttributeValues={
                    ":lease": {"N": str(lease_until)},
                    ":now": {"N": str(now)},
                    ":one": {"N": "1"},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return QueuedSend(entry.alert_id, entry.round_no, entry.to, entry.kind, entry.queue_key, lease_until)

    def done(self, entry: QueuedSend) -> None:
        """Remove an entry this run sent and recorded (only while its lease is ours)."""
        try:
            self._db.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": entry.pk}},
                ConditionExpression="lease_until = :mine",
                ExpressionAttributeValues={":mine": {"N": str(entry.lease_until)}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            logger.warning("queued send was taken over before it was removed")

    def release(self, entry: QueuedSend) -> None:
        """Give an entry back (no slot yet): the next run takes it in its turn."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": entry.pk}},
                UpdateExpression="REMOVE lease_until",
                ConditionExpression="lease_until = :mine",
                ExpressionAttributeValues={":mine": {"N": str(entry.lease_until)}},
            )

    def take_turn(self, owner: str, *, now: int, until: int) -> bool:
        """Become the one draining run (or extend this run's turn)."""
        try:
            self._db.put_item(
                TableName=self.table_name,
                Item={**TURN_KEY, "owner": {"S": owner}, "until": {"N": str(until)}},
                ConditionExpression="attribute_not_exists(pk) OR #until < :now OR #owner = :owner",
                ExpressionAttributeNames={"#until": "until", "#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def end_turn(self, owner: str) -> None:
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.delete_item(
                TableName=self.table_name,
                Key=TURN_KEY,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )

    def record_sent(
        self,
        alert_id: str,
        *,
        to: str,
        recipient: dict[str, Any] | None,
        messages: dict[str, dict[str, Any]],
        failures: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        """Put a dispatched message's result on its alert: the recipient line it was queued in
        (when the queued line is theirs), its mapping and any failure. Returns the alert after."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        if recipient is not None:
            names["#to"] = to
            values[":rec"] = _serializer.serialize(recipient)
            sets.append("recipients.#to = :rec")
        for prefix, group, entries in (("m", "messages", messages), ("f", "failures", failures)):
            for index, (key, value) in enumerate(entries.items()):
                names[f"#{prefix}{index}"] = key
                values[f":{prefix}{index}"] = _serializer.serialize(value)
                sets.append(f"{group}.#{prefix}{index} = :{prefix}{index}")
        if not sets:
            return {}
        response = self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return from_item(response["Attributes"])


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


def enqueuer(
    queue: SendQueue, alert: dict[str, Any], *, round_no: int, kind: str, order: list[str], settings: Settings
) -> Enqueue:
    """The `enqueue` hook of `send_messages` for one round of one alert."""
    created_ms = int(alert["created_epoch"]) * 1000
    alert_id = str(alert["alert_id"])

    def enqueue(recipients: list[str]) -> None:
        now = utc_now()
        queue.enqueue(
            [
                QueuedSend(
                    alert_id,
                    round_no,
                    to,
                    kind,
                    queue_key(
                        kind,
                        position=order.index(to) if to in order else len(order),
                        created_ms=created_ms,
                        alert_id=alert_id,
                        round_no=round_no,
                        to=to,
                    ),
                )
                for to in recipients
            ],
            enqueued_at=epoch(now),
            expires_at=epoch(now) + settings.retention_days * 86_400,
        )
        count("MessagesQueued", len(recipients))
        logger.info("messages queued for a send slot", extra={"queued": len(recipients), "round": round_no})
        wake_dispatcher()

    return enqueue


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    still_waiting: int = 0
    skipped_turn: bool = False
    outcomes: list[str] = field(default_factory=list)


def run_dispatcher(
    queue: SendQueue,
    repo: AlertRepository,
    woosh: Callable[[], WooshClient],
    settings: Settings,
    *,
    time_left: Callable[[], float],
    owner: str | None = None,
) -> DispatchReport:
    """Drain the queue in priority order while time is left; one run at a time."""
    owner = owner or uuid.uuid4().hex
    report = DispatchReport()
    client_ = woosh()
    while True:
        now = int(time.time())
        if not queue.take_turn(owner, now=now, until=now + TURN_SECONDS):
            report.skipped_turn = True
            return report
        try:
            _drain(queue, repo, client_, settings, owner, time_left, report)
        finally:
            # A run that fails hands its turn on at once; one that dies keeps it TURN_SECONDS.
            queue.end_turn(owner)
        # Something enqueued while this run was finishing (its wake-up found the turn taken):
        # take it now rather than at the next schedule tick.
        if time_left() <= 15 or not queue.waiting(limit=1, now=int(time.time())):
            report.still_waiting = queue.size()
            return report


def _drain(
    queue: SendQueue,
    repo: AlertRepository,
    woosh: WooshClient,
    settings: Settings,
    owner: str,
    time_left: Callable[[], float],
    report: DispatchReport,
) -> None:
    """Send batches of the highest-priority entries until the queue is empty or time is short."""
    while time_left() > 15:
        now = int(time.time())
        queue.take_turn(owner, now=now, until=now + TURN_SECONDS)
        entries = queue.waiting(limit=BATCH, now=now)
        if not entries:
            return
        claimed = [c for e in entries if (c := queue.claim(e, now=now, lease_until=now + LEASE_SECONDS))]
        deadline = time.monotonic() + max(5.0, min(time_left() - 10, 100.0))
        with ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="dispatch") as pool:
            futures = [pool.submit(dispatch_one, e, queue, repo, woosh, settings, deadline) for e in claimed]
        outcomes = [future.result() for future in futures]
        report.outcomes += outcomes
        report.sent += outcomes.count("sent")
        report.failed += outcomes.count("failed")


def dispatch_one(
    entry: QueuedSend,
    queue: SendQueue,
    repo: AlertRepository,
    woosh: WooshClient,
    settings: Settings,
    deadline: float,
) -> str:
    """Send one claimed entry and record it like `send_messages` records a round's message."""
    alert = repo.get_alert(entry.alert_id)
    if alert is None:
        queue.done(entry)
        return "alert_gone"
    key = f"{entry.round_no}:{entry.to}"
    earlier = alert.get("reminders", {}).get(key)
    done: dict[str, Delivery] = {}
    if earlier is not None and (earlier.get("error") or {}).get("code") != QUEUED:
        # A run that died after the send recorded it: only the bookkeeping is left.
        done[entry.to] = Delivery.from_record(entry.to, earlier)
    now = utc_now()
    max_rounds = int(alert["escalation"]["max_rounds"])
    content = AlertContent(
        settings,
        StoredAlert.of(alert),
        entry.alert_id,
        (entry.round_no, max_rounds) if entry.round_no > 0 else None,
    )

    def remember(delivery: Delivery) -> None:
        repo.record_reminder(entry.alert_id, entry.round_no, delivery.to, delivery.record())

    delivery = send_messages(
        repo,
        woosh,
        settings,
        alert_id=entry.alert_id,
        content=content,
        recipients=[entry.to],
        round_no=entry.round_no,
        now=now,
        deadline=deadline,
        on_sent=remember,
        done=done,
        # A queued first recipient of a first alert is still that alarm's first contact.
        first_contacts=alert.get("recipient_order", [])[:1] if entry.round_no == 0 else (),
    )[0]
    if delivery.result.error_code == "no_send_slot":
        queue.release(entry)
        return "no_slot"
    records = round_records(entry.alert_id, entry.round_no, [delivery])
    line = alert.get("recipients", {}).get(entry.to) or {}
    mine = line.get("send_status") == QUEUED and int(line.get("round", -1)) == entry.round_no
    stored = queue.record_sent(
        entry.alert_id,
        to=entry.to,
        recipient={**records.recipients[entry.to], "sent_at": iso(now)} if mine else None,
        messages=records.messages,
        failures=records.failures,
    )
    queue.done(entry)
    if not delivery.result.accepted:
        latest = int(stored.get("rounds_sent", 0)) == entry.round_no
        if latest and all_deliveries_failed(stored, entry.round_no):
            repo.bring_forward(entry.alert_id, round_no=entry.round_no, now=epoch(now))
        return "failed"
    count("QueuedMessageSent")
    return "sent"
