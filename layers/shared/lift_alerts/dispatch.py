"""The send queue (SPEC §11): messages that got no send slot before their deadline wait here
and the dispatcher sends them, highest priority first, as soon as the budget allows.

Each waiting message is one item of the alerts table in the sparse index `QueueIndex`
(`queue_shard` = "queued", sorted by `queue_key`): `queued#<alert_id>#<round>#<phone>` for a
first alert or a reminder, `queued#<alert_id>#<ledger>#<key>` for every other kind (the alert
map its send is recorded in, and its key there). The sort key is the priority (`queue_key`):
first alerts, then entrapment confirmation requests, then reminders, confirmation reminders
and critical messages, then acknowledgements and notices; among first alerts the recipient's
position comes before the alarm's age, so one recipient of every waiting alarm goes before
the second recipient of any, oldest alarm first.

What a queued message says is decided when its turn comes, from the stored alert (`KINDS`):
a first alert, reminder or confirmation question is rendered again from the alert; a text
(acknowledgement, notice, critical message) is sent as it was worded when it was queued,
kept on the item. A message whose reason is gone by then is dropped, recorded as such, and
its item removed: a reminder or critical message of an alert answered or closed meanwhile, a
confirmation question or reminder once confirmed, missed or closed, a first alert of a
closed alert. Everything else goes out: a first alert of an alert answered meanwhile is still
sent (SPEC §11: sent as soon as the limits allow), its tap is acknowledged with who answered.

Exactly-once, as far as a send can be: the dispatcher claims an item with a conditional write
(a lease) before sending; records the send on the alert right after Woosh answered (the
round's `reminders.<round>:<phone>`, the confirmation's `confirm_sends.<step>:<phone>`, or the
follow-up ledger entry); stores the mapping and the rest of the bookkeeping; and only then
deletes the item. A run that dies after the send record finds it on the retry and only
completes the bookkeeping; a run that dies between Woosh's answer and that record
(milliseconds) sends again once its lease expired: a duplicate alert is safer than a missing
one, as for reminders. A new item is held for HOLD_SECONDS, so the request that queued it has
recorded it as queued before a dispatcher can send it (else that record could overwrite the
dispatcher's). One dispatcher drains at a time (a lease on `dispatcher#turn`), so the order
of the index is the order of sending.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any, cast

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from lift_alerts.aws import client
from lift_alerts.channels import Channel
from lift_alerts.clock import epoch, iso, utc_now
from lift_alerts.config import Settings
from lift_alerts.observability import count, logger
from lift_alerts.repository import AlertRepository, from_item, to_item
from lift_alerts.sending import (
    AlertContent,
    Content,
    Delivery,
    Enqueue,
    round_records,
    send_messages,
)
from lift_alerts.stored import QUEUED, AlertItem, SendRecord, StoredAlert, all_deliveries_failed, send_key
from lift_alerts.table import NotWritten, Table, Written, written
from lift_alerts.woosh import NO_SLOT, WooshClient

QUEUE_SHARD = "queued"
QUEUE_INDEX = "QueueIndex"
TURN_KEY = {"pk": {"S": "dispatcher#turn"}}
# Longer than one dispatch batch can take (a slot is at most a long window away, plus the send).
LEASE_SECONDS = 150
TURN_SECONDS = 60
BATCH = 10
# A new item waits this long before a dispatcher may take it (module docstring).
HOLD_SECONDS = 2
# Priority classes, lowest first (SPEC §11). Kinds are those of `Content.kind`.
PRIORITY = {
    "alert": 1,
    "confirm": 2,
    "confirm_request": 2,
    "reminder": 3,
    "confirm_reminder": 3,
    "critical": 3,
    "ack": 4,
    "reply_ack": 4,
    "notice": 4,
    "confirm_confirmed": 4,
    "confirm_missed": 4,
}
# The map of the alert where a send of a confirmation step is recorded (confirmation.SENDS).
CONFIRM_SENDS = "confirm_sends"
DROPPED = "dropped"
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


@dataclass(frozen=True)
class StoredContent:
    """A text kept on its queue item as it was worded (a `Content`): the channel for a person
    inside the window, the one outside it (None: skipped), and the body for each channel."""

    kind: str
    inside: Channel
    outside: Channel | None
    bodies: dict[str, dict[str, Any]]

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        return self.bodies.get(channel)

    @staticmethod
    def keep(content: Content, to: str) -> dict[str, Any]:
        """What the queue item keeps of `content` for `to`."""
        channels = {content.inside, content.outside, "template"} - {None}
        bodies = {
            str(c): body for c in channels if c is not None and (body := content.body(to, c)) is not None
        }
        return {"kind": content.kind, "inside": content.inside, "outside": content.outside, "bodies": bodies}

    @classmethod
    def of(cls, kept: dict[str, Any]) -> StoredContent:
        return cls(str(kept["kind"]), kept["inside"], kept.get("outside"), dict(kept.get("bodies") or {}))


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


def enqueuer(
    queue: SendQueue,
    alert: AlertItem,
    *,
    round_no: int,
    kind: str,
    order: list[str],
    settings: Settings,
    ledger: str | None = None,
    keys: dict[str, str] | None = None,
    content: Content | None = None,
) -> Enqueue:
    """The `enqueue` hook of `send_messages` for one round of one alert, or one follow-up send.

    A first alert or reminder (`ledger` None) is recorded per round; any other kind names the
    alert map its sends are recorded in (`ledger`, each person's key there in `keys`). A text
    is kept as it was worded (`content`, see StoredContent); a kind rendered from the alert
    when its turn comes (KINDS) needs none.
    """
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
                    ledger=ledger,
                    key=(keys or {}).get(to) if ledger is not None else None,
                    content=StoredContent.keep(content, to) if content is not None else None,
                )
                for to in recipients
            ],
            enqueued_at=epoch(now),
            expires_at=epoch(now) + settings.retention_days * 86_400,
        )
        count("MessagesQueued", len(recipients))
        logger.info(
            "messages queued for a send slot",
            extra={"queued": len(recipients), "round": round_no, "kind": kind},
        )
        wake_dispatcher()

    return enqueue


@dataclass
class DispatchReport:
    still_waiting: int = 0
    skipped_turn: bool = False
    outcomes: list[str] = field(default_factory=list)  # one per entry taken, in order

    @property
    def sent(self) -> int:
        return self.outcomes.count("sent")

    @property
    def failed(self) -> int:
        return self.outcomes.count("failed")

    @property
    def dropped(self) -> int:
        return self.outcomes.count(DROPPED)


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
        # Something enqueued while this run was finishing (its wake-up found the turn taken),
        # ready or still held: take it now rather than at the next schedule tick.
        now = int(time.time())
        if time_left() <= 15 or not (queue.waiting(limit=1, now=now) or queue.held(now=now)):
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
            if queue.held(now=now):
                # Queued a moment ago (HOLD_SECONDS): ready within a second or two.
                time.sleep(0.5)
                continue
            return
        claimed = [c for e in entries if (c := queue.claim(e, now=now, lease_until=now + LEASE_SECONDS))]
        deadline = time.monotonic() + max(5.0, min(time_left() - 10, 100.0))
        with ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="dispatch") as pool:
            futures = [pool.submit(dispatch_one, e, queue, repo, woosh, settings, deadline) for e in claimed]
        outcomes = [future.result() for future in futures]
        report.outcomes += outcomes


@dataclass(frozen=True)
class Turn:
    """One claimed entry's turn: the entry, its alert as read when the turn came, the time,
    and where its send is recorded."""

    entry: QueuedSend
    alert: AlertItem
    queue: SendQueue
    repo: AlertRepository
    now: datetime

    def ledger_record(self) -> SendRecord | None:
        return _ledger_record(self.entry, self.alert)


Check = Callable[[QueuedSend, AlertItem], str | None]


@dataclass(frozen=True)
class QueuedKind:
    """How the dispatcher handles one family of queued messages when their turn comes.

    `stale`: why the message should no longer go out (None: it should). `content`: what it
    says. `earlier`: its send record on the alert when a run that died already sent it (only
    the bookkeeping is left). `remember`: the send record, written right after Woosh
    answered. `finish`: the rest of the bookkeeping, once the mapping is stored; returns the
    outcome. `drop`: record that it will never go out. `follow_up`: its message belongs to no
    escalation round.
    """

    stale: Check
    content: Callable[[QueuedSend, AlertItem, Settings], Content]
    earlier: Callable[[QueuedSend, AlertItem], SendRecord | None]
    remember: Callable[[Turn, Delivery], None]
    finish: Callable[[Turn, Delivery], str]
    drop: Callable[[Turn, str], None]
    follow_up: bool


def _answered_or_closed(entry: QueuedSend, alert: AlertItem) -> str | None:
    if alert.get("closed_at"):
        return "alert_closed"
    return "alert_answered" if alert.get("responses") else None


def _closed(entry: QueuedSend, alert: AlertItem) -> str | None:
    return "alert_closed" if alert.get("closed_at") else None


def _confirmation_over(entry: QueuedSend, alert: AlertItem) -> str | None:
    confirmation = alert.get("confirmation") or {}
    if confirmation.get("confirmed_at"):
        return "provider_confirmed"
    if confirmation.get("missed_at"):
        return "confirmation_missed"
    return _closed(entry, alert)


def _unless_confirmed(entry: QueuedSend, alert: AlertItem) -> str | None:
    return "provider_confirmed" if (alert.get("confirmation") or {}).get("confirmed_at") else None


def _never_stale(entry: QueuedSend, alert: AlertItem) -> str | None:
    return None


def _unsent(record: Mapping[str, Any] | None) -> bool:
    return record is None or (record.get("error") or {}).get("code") in (QUEUED, DROPPED)


def _dropped(reason: str) -> SendRecord:
    return {"message_id": None, "error": {"code": DROPPED, "title": reason}}


# -- first alerts and reminders: recorded per round (`reminders`, the recipient line) ----------


def _round_content(entry: QueuedSend, alert: AlertItem, settings: Settings) -> Content:
    max_rounds = int(alert["escalation"]["max_rounds"])
    reminder = (entry.round_no, max_rounds) if entry.round_no > 0 else None
    return AlertContent(settings, StoredAlert.of(alert), entry.alert_id, reminder)


def _round_earlier(entry: QueuedSend, alert: AlertItem) -> SendRecord | None:
    record = alert.get("reminders", {}).get(send_key(entry.round_no, entry.to))
    return None if _unsent(record) else record


def _round_remember(turn: Turn, delivery: Delivery) -> None:
    turn.repo.record_reminder(turn.entry.alert_id, turn.entry.round_no, delivery.to, delivery.record())


def _queued_line_is_this(entry: QueuedSend, alert: AlertItem) -> bool:
    line = alert.get("recipients", {}).get(entry.to) or {}
    return line.get("send_status") == QUEUED and int(line.get("round", -1)) == entry.round_no


def _round_finish(turn: Turn, delivery: Delivery) -> str:
    entry = turn.entry
    records = round_records(entry.alert_id, entry.round_no, [delivery])
    mine = _queued_line_is_this(entry, turn.alert)
    stored = turn.repo.record_dispatched(
        entry.alert_id,
        to=entry.to,
        recipient={**records.recipients[entry.to], "sent_at": iso(turn.now)} if mine else None,
        messages=records.messages,
        failures=records.failures,
    )
    if not delivery.result.accepted:
        latest = int(stored.get("rounds_sent", 0)) == entry.round_no
        if latest and all_deliveries_failed(stored, entry.round_no):
            turn.repo.bring_forward(entry.alert_id, round_no=entry.round_no, now=epoch(turn.now))
        return "failed"
    return "sent"


def _round_drop(turn: Turn, reason: str) -> None:
    entry = turn.entry
    turn.repo.record_reminder(entry.alert_id, entry.round_no, entry.to, _dropped(reason))
    if _queued_line_is_this(entry, turn.alert):
        # A first alert of a closed alert: GET shows `not_sent`; an escalation recipient whose
        # first message was a dropped reminder was never messaged and is not listed.
        line = {**turn.alert["recipients"][entry.to], "send_status": "not_sent", **_dropped(reason)}
        turn.repo.drop_queued_line(
            entry.alert_id, to=entry.to, round_no=entry.round_no, line=line if entry.round_no == 0 else None
        )


# -- confirmation questions: recorded per step (`confirm_sends`, the message mapping) ----------


def _step_content(entry: QueuedSend, alert: AlertItem, settings: Settings) -> Content:
    # Imported here: confirmation builds on followup, which queues through this module.
    from lift_alerts.confirmation import ConfirmContent

    max_rounds = int(alert["confirmation"]["max_rounds"])
    reminder = (entry.round_no, max_rounds) if entry.round_no > 0 else None
    return ConfirmContent(settings, StoredAlert.of(alert), entry.alert_id, reminder)


def _ledger_record(entry: QueuedSend, alert: AlertItem) -> SendRecord | None:
    # A follow-up ledger is one of the alert's maps of send records, named by the entry.
    ledger = cast(Mapping[str, Any], alert).get(entry.ledger or "", {})
    record = ledger.get(entry.key) if isinstance(ledger, dict) else None
    return cast(SendRecord, record) if isinstance(record, dict) else None


def _sent_before(entry: QueuedSend, alert: AlertItem) -> SendRecord | None:
    record = _ledger_record(entry, alert)
    return None if _unsent(record) or (record or {}).get("skipped") else record


def _step_remember(turn: Turn, delivery: Delivery) -> None:
    entry = turn.entry
    turn.repo.record_sent(entry.alert_id, CONFIRM_SENDS, entry.round_no, delivery.to, delivery.record())


def _step_finish(turn: Turn, delivery: Delivery) -> str:
    from lift_alerts.confirmation import step_records

    entry = turn.entry
    messages, failures = step_records(entry.alert_id, entry.round_no, entry.kind, [delivery])
    turn.repo.record_dispatched(
        entry.alert_id, to=entry.to, recipient=None, messages=messages, failures=failures
    )
    return _outcome(delivery)


def _step_drop(turn: Turn, reason: str) -> None:
    entry = turn.entry
    turn.repo.record_sent(entry.alert_id, CONFIRM_SENDS, entry.round_no, entry.to, _dropped(reason))


# -- texts (acknowledgements, notices, critical messages): one follow-up ledger entry each -----


def _text_content(entry: QueuedSend, alert: AlertItem, settings: Settings) -> Content:
    return StoredContent.of(entry.content or {})


def _settle(turn: Turn, outcome: Mapping[str, Any]) -> None:
    """The entry's ledger record becomes `outcome`, keeping what the queued record held."""
    entry = turn.entry
    base = {"to": entry.to, "kind": entry.kind, **(turn.ledger_record() or {}), "sent_at": iso(turn.now)}
    settled = {k: v for k, v in base.items() if k not in ("error", "message_id", "dropped")} | dict(outcome)
    turn.repo.settle_queued_ledger(entry.alert_id, str(entry.ledger), str(entry.key), settled)


def _ledger_remember(turn: Turn, delivery: Delivery) -> None:
    _settle(turn, {"skipped": True} if delivery.skipped else delivery.record())


def _ledger_finish(turn: Turn, delivery: Delivery) -> str:
    if delivery.skipped:
        # Outside the window by now, with no template for this kind (SPEC §10): counted once
        # (the entry `_settle` wrote stays: first write wins).
        entry = turn.entry
        skipped = {
            str(entry.key): {"to": entry.to, "kind": entry.kind, "sent_at": iso(turn.now), "skipped": True}
        }
        turn.repo.record_ledger(entry.alert_id, str(entry.ledger), skipped, skipped=[entry.to])
        count("NoticeSkipped")
    return _outcome(delivery)


def _ledger_drop(turn: Turn, reason: str) -> None:
    _settle(turn, {**_dropped(reason), "dropped": reason})


def _outcome(delivery: Delivery) -> str:
    if delivery.skipped:
        return "skipped"
    return "sent" if delivery.result.accepted else "failed"


def _round_kind(stale: Check) -> QueuedKind:
    return QueuedKind(
        stale, _round_content, _round_earlier, _round_remember, _round_finish, _round_drop, False
    )


def _step_kind() -> QueuedKind:
    return QueuedKind(
        _confirmation_over, _step_content, _sent_before, _step_remember, _step_finish, _step_drop, True
    )


def _text_kind(stale: Check) -> QueuedKind:
    return QueuedKind(
        stale, _text_content, _sent_before, _ledger_remember, _ledger_finish, _ledger_drop, True
    )


# Every kind that can wait in the queue, and when it is stale (module docstring). Any other
# kind with a ledger is a text that never goes stale (acknowledgements, outcome notices, the
# provider-confirmed notice).
KINDS: dict[str, QueuedKind] = {
    "alert": _round_kind(_closed),
    "reminder": _round_kind(_answered_or_closed),
    "confirm_request": _step_kind(),
    "confirm_reminder": _step_kind(),
    "critical": _text_kind(_answered_or_closed),
    "confirm_missed": _text_kind(_unless_confirmed),
}
TEXT_KIND = _text_kind(_never_stale)


# Tries of the send record after Woosh answered: failing it means sending again later.
RECORD_TRIES = 3


def _record_sent_now(record: Callable[[], None]) -> None:
    """Write the send record, trying again on a failed write: until it is written, a run that
    takes over would send the message a second time (Woosh has no idempotency key)."""
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            record()
            return
        except ClientError:
            if attempt == RECORD_TRIES:
                raise
            logger.warning("send record failed; trying again", extra={"attempt": attempt})
            time.sleep(0.2 * attempt)


def dispatch_one(
    entry: QueuedSend,
    queue: SendQueue,
    repo: AlertRepository,
    woosh: WooshClient,
    settings: Settings,
    deadline: float,
) -> str:
    """Send one claimed entry and record it like the path that queued it would have."""
    alert = repo.get_alert(entry.alert_id)
    if alert is None:
        queue.done(entry)
        return "alert_gone"
    kind = KINDS.get(entry.kind, TEXT_KIND if entry.ledger is not None else KINDS["alert"])
    now = utc_now()
    turn = Turn(entry, alert, queue, repo, now)
    earlier = kind.earlier(entry, alert)
    done: dict[str, Delivery] = {}
    if earlier is not None:
        # A run that died after the send recorded it: only the bookkeeping is left.
        done[entry.to] = Delivery.from_record(entry.to, earlier)
    else:
        reason = kind.stale(entry, alert)
        if reason is not None:
            kind.drop(turn, reason)
            queue.done(entry)
            count("QueuedMessageDropped")
            logger.info(
                "queued message dropped: its reason is gone",
                extra={"alert_id": entry.alert_id, "kind": entry.kind, "reason": reason},
            )
            return DROPPED
    delivery = send_messages(
        repo,
        woosh,
        settings,
        alert_id=entry.alert_id,
        content=kind.content(entry, alert, settings),
        recipients=[entry.to],
        round_no=None if kind.follow_up else entry.round_no,
        now=now,
        deadline=deadline,
        on_sent=lambda sent: _record_sent_now(lambda: kind.remember(turn, sent)),
        done=done,
        # A queued first recipient of a first alert is still that alarm's first contact.
        first_contacts=alert.get("recipient_order", [])[:1] if entry.round_no == 0 else (),
    )[0]
    if delivery.result.error_code == NO_SLOT:
        queue.release(entry)
        return "no_slot"
    outcome = kind.finish(turn, delivery)
    queue.done(entry)
    if outcome == "sent":
        count("QueuedMessageSent")
    return outcome
