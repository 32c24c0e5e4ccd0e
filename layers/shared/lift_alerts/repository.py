"""Data access for the alerts table. Only this module builds DynamoDB expressions.

One table, one key (`pk`):
- `alert#<alert_id>`: the alert, its recipients, every recorded tap (`responses`), delivery
  failures, escalation rounds and the sparse escalation index key (`due_shard`/`due_at`,
  present only while the alert waits for a step); after an entrapment, its `confirmation`
  (SPEC §10) and a second sparse index key (`confirm_shard`/`confirm_due_at`, present only
  while a confirmation step waits: a tap removes `due_*`, never these).
- `msg#<message_id>`: one message we sent: which alert and recipient it belongs to, and its
  delivery status (created by a status that arrives before the mapping, then completed).
  Alerts and reminders also carry `sent_at`, which puts them in the sparse `ReplyIndex`
  (`recipient`, `sent_at`): a reply quoting nothing finds the alert last sent to its sender.
- `contact#<phone digits>`: when the person last wrote (WhatsApp's 24-hour window, SPEC §5),
  and `user#<business-scoped user id>`: the phone last seen with that id.
- Powertools idempotency records for `POST /alerts` (their own `pk` prefix).

The table's stream is the outbox: every event is derived from a change of an alert item
(see `events.py`), so recording a tap and publishing it cannot disagree.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from lift_alerts.aws import client
from lift_alerts.channels import Sighting

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 9}
DUE_SHARD = "due"
REPLY_INDEX = "ReplyIndex"
# The messages that page a person about an alert. Only they join ReplyIndex: a reply that
# quotes nothing goes to "the latest alert sent to that person" (SPEC §10), and a notice or
# an acknowledgement about an older alert must not make that older alert look the latest.
PAGING_KINDS = frozenset({"alert", "reminder"})
# An alert item must stay under DynamoDB's 400 KB, and replies must never fill it: a tap that
# no longer fits would be lost. Past this many replies or bytes of them, a reply is logged and
# counted instead of kept (never retried for ever as if AWS had failed).
MAX_REPLIES_PER_ALERT = 100
REPLY_BYTES_PER_ALERT = 100_000
CONFIRM_SHARD = "confirm"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in value.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers, except a reply's coordinates."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _values(**values: Any) -> dict[str, Any]:
    return {f":{k}": _serializer.serialize(v) for k, v in values.items()}


def _numbers_as_decimals(value: Any) -> Any:
    """DynamoDB takes no floats (a reply's coordinates): Decimal of their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _numbers_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_decimals(v) for v in value]
    return value


def _count_skips(skipped: list[str], names: dict[str, str], values: dict[str, Any], sets: list[str]) -> None:
    """Add one to `notices_skipped.<phone>` per person outside the window with no template."""
    if skipped:
        values[":zero"] = _serializer.serialize(0)
        values[":one"] = _serializer.serialize(1)
    for index, to in enumerate(dict.fromkeys(skipped)):
        names[f"#s{index}"] = to
        path = f"notices_skipped.#s{index}"
        sets.append(f"{path} = if_not_exists({path}, :zero) + :one")


def alert_key(alert_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"alert#{alert_id}"}}


def message_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"msg#{message_id}"}}


def contact_key(phone: str) -> dict[str, Any]:
    return {"pk": {"S": f"contact#{phone}"}}


def is_alert_item(item: dict[str, Any]) -> bool:
    return str(item.get("pk", "")).startswith("alert#")


@dataclass(frozen=True)
class TapRecorded:
    """The tap is on the alert; the table's stream publishes it. No item is returned: parsing
    the whole alert (it grows with every tap) was most of a tap's CPU, and nothing used it."""


@dataclass(frozen=True)
class TapRejected:
    reason: Literal["duplicate", "unknown_alert", "context_not_on_alert"]
    alert: dict[str, Any] | None


@dataclass(frozen=True)
class ReplyRecorded:
    """The reply is on the alert (`messages_received`); the stream publishes it."""


@dataclass(frozen=True)
class ReplyRejected:
    reason: Literal["duplicate", "unknown_alert", "closed", "full"]


@dataclass(frozen=True)
class ConfirmationRejected:
    """A YES that was not recorded: seen before, no such alert, its message is not the
    alert's, or the alert never asked for a confirmation (no entrapment)."""

    reason: Literal["duplicate", "unknown_alert", "context_not_on_alert", "not_requested"]


@dataclass(frozen=True)
class StatusRecorded:
    message: dict[str, Any]


@dataclass(frozen=True)
class StatusStale:
    message: dict[str, Any] | None


class AlertRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb

    @property
    def _db(self) -> DynamoDBClient:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client

    # -- alerts -------------------------------------------------------------------------

    def create_alert(self, alert: dict[str, Any], *, due_at: int) -> bool:
        """Store a new alert; False when an alert with this id already exists (nothing written)."""
        item = {**alert, "pk": f"alert#{alert['alert_id']}", "due_shard": DUE_SHARD, "due_at": due_at}
        try:
            self._db.put_item(
                TableName=self.table_name,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self.table_name, Key=alert_key(alert_id), ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else None

    def get_messages(self, message_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for item in self._batch_get([message_key(mid) for mid in dict.fromkeys(message_ids)]):
            message = from_item(item)
            found[str(message["pk"]).removeprefix("msg#")] = message
        return found

    def _batch_get(self, keys: list[dict[str, Any]], projection: str | None = None) -> list[dict[str, Any]]:
        """BatchGetItem over any number of keys, retrying what DynamoDB left unprocessed."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"Keys": keys[start : start + 100], "ConsistentRead": True}
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

    def record_round_results(
        self,
        alert_id: str,
        *,
        round_no: int,
        recipients: dict[str, dict[str, Any]],
        messages: dict[str, dict[str, Any]],
        failures: dict[str, dict[str, Any]],
        completed_at: str,
        escalation_round: dict[str, Any] | None = None,
        next_due_at: int | None = None,
    ) -> dict[str, Any]:
        """Store what a send round produced, in one write. Returns the alert after it."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for group, entries in (("recipients", recipients), ("messages", messages), ("failures", failures)):
            for index, (key, value) in enumerate(entries.items()):
                names[f"#{group[0]}{index}"] = key
                values[f":{group[0]}{index}"] = _serializer.serialize(value)
                path, placeholder = f"{group}.#{group[0]}{index}", f":{group[0]}{index}"
                if group == "recipients" and round_no > 0:
                    # A recipient is listed with the first message it got; reminders do not replace it.
                    sets.append(f"{path} = if_not_exists({path}, {placeholder})")
                else:
                    sets.append(f"{path} = {placeholder}")
        names["#round"] = str(round_no)
        values[":completed"] = _serializer.serialize(completed_at)
        sets.append("completed_rounds.#round = :completed")
        if escalation_round is not None:
            values[":round"] = _serializer.serialize(escalation_round)
            values[":n"] = _serializer.serialize(round_no)
            sets.append("rounds.#round = :round")
            sets.append("rounds_sent = :n")
            if next_due_at is not None:
                # Set even if a tap arrived meanwhile; the timer then finds the alert answered
                # and clears the key (`clear_due`). Setting it later could be lost in a crash.
                values[":shard"] = _serializer.serialize(DUE_SHARD)
                values[":due"] = _serializer.serialize(next_due_at)
                sets += ["due_shard = :shard", "due_at = :due"]
            # The claim is done with.
            expression = "SET " + ", ".join(sets) + " REMOVE claim"
        else:
            expression = "SET " + ", ".join(sets)
        response = self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return from_item(response["Attributes"])

    def close_alert(self, alert_id: str, *, closed_at: str, reason: str) -> dict[str, Any] | None:
        """Idempotent: the first close wins and keeps its time and reason."""
        try:
            response = self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=(
                    "SET closed_at = if_not_exists(closed_at, :at), "
                    "close_reason = if_not_exists(close_reason, :r) "
                    # Closed is final: no more reminders of either kind.
                    "REMOVE due_shard, due_at, confirm_shard, confirm_due_at"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_values(at=closed_at, r=reason),
                ReturnValues="ALL_NEW",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(response["Attributes"])

    # -- taps -----------------------------------------------------------------------------

    def record_tap(
        self, alert_id: str, response: dict[str, Any], *, require_message: str | None = None
    ) -> TapRecorded | TapRejected:
        """Append a tap to the alert; the first tap recorded becomes `first_response`.

        One conditional write does it all, so concurrent taps cannot both be first, the same
        tap (same WhatsApp message id) is recorded once, and escalation stops on the first tap.
        With `require_message`, the write only applies if that message belongs to the alert.
        """
        names = {"#tap": str(response["event_id"])}
        condition = "attribute_exists(pk) AND attribute_not_exists(taps.#tap)"
        if require_message is not None:
            names["#msg"] = require_message
            condition += " AND attribute_exists(messages.#msg)"
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=(
                    "SET responses = list_append(responses, :one), "
                    "first_response = if_not_exists(first_response, :response), taps.#tap = :true "
                    "REMOVE due_shard, due_at, claim"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(one=[response], response=response, true=True),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raw = exc.response.get("Item")
            old = from_item(raw) if raw else None  # type: ignore[arg-type]
            if old is None:
                return TapRejected("unknown_alert", None)
            if str(response["event_id"]) in old.get("taps", {}):
                return TapRejected("duplicate", old)
            return TapRejected("context_not_on_alert", old)
        return TapRecorded()

    # -- replies that are not taps (SPEC §10) -----------------------------------------------

    def record_reply(
        self, alert_id: str, reply: dict[str, Any], *, require_open: bool
    ) -> ReplyRecorded | ReplyRejected:
        """Append a reply to the alert's `messages_received`, once per reply message id.

        One conditional write: the id joins the string set `reply_ids` (a set, not a map, so
        an alert created before replies were kept takes one too: ADD and if_not_exists need
        no attribute to exist). Nothing else changes: a reply is never a tap, so
        `responses`, the escalation index and the claim stay as they are. `require_open`
        refuses a closed alert (a reply matched by time only, never by context).
        """
        size = len(json.dumps(reply, ensure_ascii=False, default=str).encode())
        condition = (
            "attribute_exists(pk) AND NOT contains(reply_ids, :id) AND "
            "(attribute_not_exists(messages_received) OR size(messages_received) < :max) AND "
            "(attribute_not_exists(reply_bytes) OR reply_bytes <= :room)"
        )
        if require_open:
            condition += " AND attribute_not_exists(closed_at)"
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=(
                    "SET messages_received = list_append(if_not_exists(messages_received, :none), :one) "
                    "ADD reply_ids :ids, reply_bytes :size"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues={
                    **_values(
                        none=[],
                        one=[_numbers_as_decimals(reply)],
                        id=str(reply["event_id"]),
                        max=MAX_REPLIES_PER_ALERT,
                        size=size,
                        room=REPLY_BYTES_PER_ALERT - size,
                    ),
                    ":ids": {"SS": [str(reply["event_id"])]},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException" and "size" in str(error.get("Message", "")):
                return ReplyRejected("full")  # the item would pass 400 KB
            if error.get("Code") != "ConditionalCheckFailedException":
                raise
            raw = exc.response.get("Item")
            if not raw:
                return ReplyRejected("unknown_alert")
            old: dict[str, Any] = raw  # type: ignore[assignment]
            if str(reply["event_id"]) in old.get("reply_ids", {}).get("SS", []):
                return ReplyRejected("duplicate")
            stored_bytes = int(old.get("reply_bytes", {}).get("N", "0"))
            if (
                len(old.get("messages_received", {}).get("L", [])) >= MAX_REPLIES_PER_ALERT
                or stored_bytes > REPLY_BYTES_PER_ALERT - size
            ):
                return ReplyRejected("full")
            return ReplyRejected("closed")
        return ReplyRecorded()

    def recently_paged_alert_ids(self, phone: str, *, since: int, until: int, limit: int = 25) -> list[str]:
        """Alerts whose alert or reminder reached `phone` between `since` and `until`, latest
        first, each once: one Query of the sparse ReplyIndex (never a scan)."""
        response = self._db.query(
            TableName=self.table_name,
            IndexName=REPLY_INDEX,
            KeyConditionExpression="recipient = :to AND sent_at BETWEEN :since AND :until",
            ExpressionAttributeValues=_values(to=phone, since=since, until=until),
            ScanIndexForward=False,
            Limit=limit,
        )
        found = [str(item["alert_id"]["S"]) for item in response.get("Items", []) if "alert_id" in item]
        return list(dict.fromkeys(found))

    def phone_for_user(self, user_id: str) -> str | None:
        """The phone last seen with a business-scoped user id (see `record_sighting`)."""
        item = self._db.get_item(TableName=self.table_name, Key={"pk": {"S": f"user#{user_id}"}}).get("Item")
        return str(item["phone"]["S"]) if item and "phone" in item else None

    # -- messages and statuses --------------------------------------------------------------

    def find_message(self, message_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self.table_name, Key=message_key(message_id), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def store_message(
        self,
        message_id: str,
        *,
        alert_id: str,
        recipient: str,
        round_no: int | None,
        expires_at: int,
        kind: str = "alert",
        channel: str = "interactive",
        fallback_for: str | None = None,
        sent_at: int | None = None,
    ) -> dict[str, Any]:
        """Write the message -> alert mapping without losing a status that arrived first.

        `kind` says what the message was (alert, reminder, notice, …); `round_no` is set for
        an alert's rounds; `channel` lets a later 131047 failure decide whether a template
        fallback is due; `fallback_for` names the message a template fallback replaced.
        `sent_at` (Unix seconds) puts an alert or reminder in ReplyIndex (PAGING_KINDS).
        """
        expression = (
            "SET alert_id = :a, recipient = :r, kind = :k, expires_at = :exp, channel = :c, "
            "delivery_status = if_not_exists(delivery_status, :accepted), "
            "status_rank = if_not_exists(status_rank, :zero)"
        )
        values = _values(
            a=alert_id, r=recipient, k=kind, exp=expires_at, c=channel, accepted="accepted", zero=0
        )
        if round_no is not None:
            expression += ", round_no = :n"
            values.update(_values(n=round_no))
        if fallback_for is not None:
            expression += ", fallback_for = :f"
            values.update(_values(f=fallback_for))
        if sent_at is not None and kind in PAGING_KINDS:
            # Kept from the first store: a resumed send must not make an old alert look new.
            expression += ", sent_at = if_not_exists(sent_at, :sent)"
            values.update(_values(sent=sent_at))
        response = self._db.update_item(
            TableName=self.table_name,
            Key=message_key(message_id),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return from_item(response["Attributes"])

    def record_status(
        self, message_id: str, status: str, *, at: str, error: dict[str, str] | None, expires_at: int
    ) -> StatusRecorded | StatusStale:
        """Move a message's delivery status forward only: sent < delivered < read; failed is final.

        Upserts: a status that arrives before the send stored the mapping creates the item,
        and the mapping write keeps it (SPEC §6).
        """
        rank = STATUS_RANK[status]
        expression = (
            "SET delivery_status = :s, status_rank = :rank, status_at = :at, "
            "expires_at = if_not_exists(expires_at, :exp)"
        )
        values = _values(s=status, rank=rank, at=at, exp=expires_at)
        if error is not None:
            expression += ", delivery_error = :err"
            values.update(_values(err=error))
        try:
            response = self._db.update_item(
                TableName=self.table_name,
                Key=message_key(message_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(status_rank) OR status_rank < :rank",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raw = exc.response.get("Item")
            return StatusStale(from_item(raw) if raw else None)  # type: ignore[arg-type]
        return StatusRecorded(from_item(response["Attributes"]))

    def record_failure(self, alert_id: str, key: str, failure: dict[str, Any]) -> dict[str, Any] | None:
        """Record one delivery failure on its alert, once. Returns the alert, or None if already there."""
        try:
            response = self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression="SET failures.#k = :f",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(failures.#k)",
                ExpressionAttributeNames={"#k": key},
                ExpressionAttributeValues=_values(f=failure),
                ReturnValues="ALL_NEW",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(response["Attributes"])

    def record_fallback(
        self,
        alert_id: str,
        original_id: str,
        fallback: dict[str, Any],
        *,
        failure: tuple[str, dict[str, Any]] | None,
    ) -> dict[str, Any] | None:
        """Record the template fallback of message `original_id` on its alert, once.

        The fallback's id joins `messages` (a tap on it matches by context.id); a fallback
        that failed adds its failure, which is published. Returns the alert after the write,
        or None when this fallback was already recorded (a re-delivered stream record).
        """
        names = {"#orig": original_id}
        values = _values(fb=fallback)
        sets = ["fallbacks.#orig = :fb"]
        message_id = fallback.get("message_id")
        if message_id:
            names["#mid"] = str(message_id)
            values.update(
                _values(msg={"to": fallback["to"], "round": fallback["round"], "channel": "template"})
            )
            sets.append("messages.#mid = :msg")
        if failure is not None:
            names["#fk"] = failure[0]
            values.update(_values(fail=failure[1]))
            sets.append("failures.#fk = :fail")
        try:
            response = self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(fallbacks.#orig)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(response["Attributes"])

    def record_ledger(
        self, alert_id: str, ledger: str, entries: dict[str, dict[str, Any]], *, skipped: list[str]
    ) -> None:
        """Record follow-up messages under `ledger.<key>` (first write wins) and count skips.

        `ledger` is one of the alert's follow-up maps (created with the alert); `skipped` are
        people outside the window with no template for the message, counted per person.
        """
        if not entries and not skipped:
            return
        names: dict[str, str] = {"#ledger": ledger}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for index, (key, entry) in enumerate(entries.items()):
            names[f"#k{index}"] = key
            values[f":v{index}"] = _serializer.serialize(entry)
            sets.append(f"#ledger.#k{index} = if_not_exists(#ledger.#k{index}, :v{index})")
        _count_skips(skipped, names, values, sets)
        self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def set_ledger_field(
        self, alert_id: str, ledger: str, key: str, field: str, value: dict[str, Any]
    ) -> bool:
        """Set `ledger.key.field` once (a follow-up message's failure or template fallback).

        False when the entry is absent or the field already set (a status or stream record
        delivered again): the first write wins.
        """
        path = "#ledger.#key.#field"
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=f"SET {path} = :v",
                ConditionExpression=f"attribute_exists(#ledger.#key) AND attribute_not_exists({path})",
                ExpressionAttributeNames={"#ledger": ledger, "#key": key, "#field": field},
                ExpressionAttributeValues=_values(v=value),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- 24-hour windows (SPEC §5) -------------------------------------------------------------

    def record_sighting(self, sighting: Sighting, *, expires_at: int, retention_expires_at: int) -> None:
        """Remember that a person wrote at `sighting.at` (only ever moves forward).

        Keyed by phone digits; a business-scoped user id seen with a phone is remembered so a
        later message that carries only the user id counts for that phone.
        """
        phone = sighting.wa_id
        if phone and sighting.user_id:
            self._db.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {"pk": f"user#{sighting.user_id}", "phone": phone, "expires_at": retention_expires_at}
                ),
            )
        elif not phone and sighting.user_id:
            known = self._db.get_item(
                TableName=self.table_name, Key={"pk": {"S": f"user#{sighting.user_id}"}}
            ).get("Item")
            phone = str(known["phone"]["S"]) if known and "phone" in known else None
        if not phone:
            return
        # A failed condition means a later message of theirs is already recorded.
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self.table_name,
                Key=contact_key(phone),
                UpdateExpression="SET last_inbound = :at, expires_at = :exp",
                ConditionExpression="attribute_not_exists(last_inbound) OR last_inbound < :at",
                ExpressionAttributeValues=_values(at=sighting.at, exp=expires_at),
            )

    def last_inbound(self, phones: list[str]) -> dict[str, int]:
        """When each person last wrote (Unix seconds); people never seen are absent."""
        items = self._batch_get([contact_key(p) for p in dict.fromkeys(phones)], "pk, last_inbound")
        return {
            str(item["pk"]["S"]).removeprefix("contact#"): int(item["last_inbound"]["N"])
            for item in items
            if "last_inbound" in item
        }

    # -- escalation -----------------------------------------------------------------------------

    def due_alert_ids(self, now: int, *, limit: int = 200) -> list[str]:
        """Alerts whose next escalation step is due, from the sparse index (never a scan)."""
        return self._due_ids("DueIndex", "due_shard", "due_at", DUE_SHARD, now, limit)

    def _due_ids(
        self, index: str, shard_attr: str, due_attr: str, shard: str, now: int, limit: int
    ) -> list[str]:
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": f"{shard_attr} = :shard AND {due_attr} <= :now",
            "ExpressionAttributeValues": _values(shard=shard, now=now),
        }
        while len(ids) < limit:
            response = self._db.query(**kwargs)
            ids += [str(item["pk"]["S"]).removeprefix("alert#") for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids[:limit]

    def claim_step(
        self, alert_id: str, *, step: int, rounds_sent: int, now: int, lease_until: int, reason: str
    ) -> bool:
        """Claim escalation step `step` (a round, or the final 'unanswered' step) for this timer run.

        Fails when another run holds a live claim, the round was already sent, someone tapped,
        or the alert was closed. An expired claim (a run that crashed half way) can be taken over.
        """
        return self._claim(
            alert_id,
            claim_attr="claim",
            claim={"step": step, "lease_until": lease_until, "reason": reason},
            now=now,
            condition=(
                "attribute_exists(due_at) AND due_at <= :now AND rounds_sent = :sent "
                "AND size(responses) = :zero AND attribute_not_exists(closed_at) "
                "AND attribute_not_exists(unanswered_at)"
            ),
            values={"sent": rounds_sent, "zero": 0},
        )

    def _claim(
        self,
        alert_id: str,
        *,
        claim_attr: str,
        claim: dict[str, Any],
        now: int,
        condition: str,
        values: dict[str, Any],
    ) -> bool:
        """The timer's claim on one step of an alert, taken before anything is sent (SPEC §9).

        `condition` says the step is due and not yet done; on top of it no other run may hold a
        live claim. A claim whose lease ran out (its run crashed half way) can be taken over:
        the new run sends only to those the crashed one did not record.
        """
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=f"SET {claim_attr} = :claim",
                ConditionExpression=(
                    f"{condition} AND (attribute_not_exists({claim_attr}) OR {claim_attr}.lease_until < :now)"
                ),
                ExpressionAttributeValues=_values(now=now, claim=claim, **values),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def record_reminder(self, alert_id: str, round_no: int, recipient: str, reminder: dict[str, Any]) -> None:
        """Remember, right after each send, who was reminded in a round: a retry skips them."""
        self.record_sent(alert_id, "reminders", round_no, recipient, reminder)

    def record_sent(
        self, alert_id: str, ledger: str, round_no: int, recipient: str, record: dict[str, Any]
    ) -> None:
        """Right after one send of a claimed round: `<ledger>.<round>:<recipient>` (a map made
        with the alert), so a run taking over a crashed one skips this person."""
        self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression="SET #ledger.#k = :r",
            ExpressionAttributeNames={"#ledger": ledger, "#k": f"{round_no}:{recipient}"},
            ExpressionAttributeValues=_values(r=record),
        )

    def clear_due(self, alert_id: str) -> None:
        """Drop a stale index entry of an alert that no longer escalates."""
        self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression="REMOVE due_shard, due_at",
            ConditionExpression=(
                "attribute_exists(pk) AND (size(responses) > :zero OR attribute_exists(closed_at) "
                "OR attribute_exists(unanswered_at))"
            ),
            ExpressionAttributeValues=_values(zero=0),
        )

    def bring_forward(self, alert_id: str, *, round_no: int, now: int) -> bool:
        """All deliveries of the latest round failed: make the next step due now."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression="SET due_at = :now",
                ConditionExpression="rounds_sent = :n AND attribute_exists(due_at) AND due_at > :now",
                ExpressionAttributeValues=_values(n=round_no, now=now),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_unanswered(self, alert_id: str, *, at: str) -> bool:
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression="SET unanswered_at = :at REMOVE due_shard, due_at, claim",
                ConditionExpression=(
                    "size(responses) = :zero AND attribute_not_exists(closed_at) "
                    "AND attribute_not_exists(unanswered_at)"
                ),
                ExpressionAttributeValues=_values(at=at, zero=0),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- entrapment confirmation (SPEC §10) -----------------------------------------------------

    def start_confirmation(self, alert_id: str, confirmation: dict[str, Any], *, due_at: int) -> bool:
        """Ask for a confirmation once per alert: False when it was asked before or the alert
        is closed. The index key makes the request (step 0) due at `due_at`."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=(
                    "SET confirmation = :c, confirm_sends = :empty, "
                    "confirm_shard = :shard, confirm_due_at = :due"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(confirmation) "
                    "AND attribute_not_exists(closed_at)"
                ),
                ExpressionAttributeValues=_values(c=confirmation, empty={}, shard=CONFIRM_SHARD, due=due_at),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def confirmation_due_ids(self, now: int, *, limit: int = 200) -> list[str]:
        """Alerts whose next confirmation step is due, from ConfirmDueIndex (never a scan)."""
        return self._due_ids("ConfirmDueIndex", "confirm_shard", "confirm_due_at", CONFIRM_SHARD, now, limit)

    def claim_confirmation_step(self, alert_id: str, *, step: int, now: int, lease_until: int) -> bool:
        """Claim confirmation step `step` (0 the request, 1..N reminders, N+1 missed) for one run.

        Fails when it is not due, was done, the provider was confirmed, the confirmation was
        missed, the alert was closed, or another run holds a live claim.
        """
        return self._claim(
            alert_id,
            claim_attr="confirm_claim",
            claim={"step": step, "lease_until": lease_until},
            now=now,
            condition=(
                "attribute_exists(confirm_due_at) AND confirm_due_at <= :now "
                "AND confirmation.steps_done = :step AND attribute_not_exists(confirmation.confirmed_at) "
                "AND attribute_not_exists(confirmation.missed_at) AND attribute_not_exists(closed_at)"
            ),
            values={"step": step},
        )

    def record_confirmation_step(
        self,
        alert_id: str,
        *,
        step: int,
        messages: dict[str, dict[str, Any]],
        failures: dict[str, dict[str, Any]],
        skipped: list[str],
        next_due_at: int,
        next_due_iso: str,
    ) -> bool:
        """Complete a confirmation step in one write, once: its message mappings (taps on them
        match by context), failures, people skipped, and when the next step is due.

        The index key is set even if a YES came meanwhile; the timer then finds the alert
        confirmed and clears it (setting it later could be lost in a crash).
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = _values(
            step=step, done=step + 1, shard=CONFIRM_SHARD, due=next_due_at, due_iso=next_due_iso
        )
        sets = [
            "confirmation.steps_done = :done",
            "confirmation.rounds_sent = :step",
            "confirmation.next_due_at = :due_iso",
            "confirm_shard = :shard",
            "confirm_due_at = :due",
        ]
        for group, entries in (("messages", messages), ("failures", failures)):
            for index, (key, value) in enumerate(entries.items()):
                names[f"#{group[0]}{index}"] = key
                values[f":{group[0]}{index}"] = _serializer.serialize(value)
                sets.append(f"{group}.#{group[0]}{index} = :{group[0]}{index}")
        _count_skips(skipped, names, values, sets)
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE confirm_claim",
                ConditionExpression="confirmation.steps_done = :step",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),  # type: ignore[arg-type]
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False  # another run (that took over this step) completed it first
        return True

    def mark_confirmation_missed(self, alert_id: str, *, at: str, step: int) -> bool:
        """Nobody tapped YES after the last reminder: recorded once (the stream publishes it)."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=(
                    "SET confirmation.missed_at = :at, confirmation.steps_done = :done, "
                    "confirmation.next_due_at = :null REMOVE confirm_shard, confirm_due_at, confirm_claim"
                ),
                ConditionExpression=(
                    "confirmation.steps_done = :step AND attribute_not_exists(confirmation.confirmed_at) "
                    "AND attribute_not_exists(confirmation.missed_at) AND attribute_not_exists(closed_at)"
                ),
                ExpressionAttributeValues=_values(at=at, step=step, done=step + 1, null=None),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def clear_confirmation_due(self, alert_id: str) -> None:
        """Drop the index key of a confirmation that no longer waits (confirmed, missed, closed)."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression="REMOVE confirm_shard, confirm_due_at",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_exists(confirmation.confirmed_at) "
                    "OR attribute_exists(confirmation.missed_at) OR attribute_exists(closed_at) "
                    "OR attribute_not_exists(confirmation))"
                ),
            )

    def record_confirmation(
        self, alert_id: str, yes: dict[str, Any], *, closed_at: str, require_message: str | None = None
    ) -> ConfirmationRejected | None:
        """Record one YES with one conditional write; None when recorded.

        Every YES is kept in `confirmations` (once per tap id, through the alert's `taps`).
        The first YES from anyone sets `confirmation.confirmed_at`/`confirmed_by`, closes the
        alert (reason `provider_confirmed`, unless it was closed already) and removes the
        confirmation index key (reminders stop); later ones change nothing else. A YES never
        enters `responses`: it classifies nothing.
        """
        names = {"#tap": str(yes["event_id"])}
        condition = (
            "attribute_exists(pk) AND attribute_exists(confirmation) AND attribute_not_exists(taps.#tap)"
        )
        if require_message is not None:
            names["#msg"] = require_message
            condition += " AND attribute_exists(messages.#msg)"
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=(
                    "SET confirmations = list_append(if_not_exists(confirmations, :empty), :one), "
                    "taps.#tap = :true, "
                    "confirmation.confirmed_at = if_not_exists(confirmation.confirmed_at, :at), "
                    "confirmation.confirmed_by = if_not_exists(confirmation.confirmed_by, :by), "
                    "closed_at = if_not_exists(closed_at, :closed), "
                    "close_reason = if_not_exists(close_reason, :reason) "
                    "REMOVE confirm_shard, confirm_due_at, confirm_claim"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_values(
                    empty=[],
                    one=[yes],
                    true=True,
                    at=yes["responded_at"],
                    by=yes["responder"],
                    closed=closed_at,
                    reason="provider_confirmed",
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raw = exc.response.get("Item")
            old = from_item(raw) if raw else None  # type: ignore[arg-type]
            if old is None:
                return ConfirmationRejected("unknown_alert")
            if str(yes["event_id"]) in old.get("taps", {}):
                return ConfirmationRejected("duplicate")
            if "confirmation" not in old:
                return ConfirmationRejected("not_requested")
            return ConfirmationRejected("context_not_on_alert")
        return None
