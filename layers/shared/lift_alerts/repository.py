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

import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from lift_alerts.channels import Sighting
from lift_alerts.stored import (
    QUEUED,
    STATUS_RANK,
    AlertItem,
    Confirmation,
    EscalationRound,
    Failure,
    Fallback,
    MessageItem,
    MessageRef,
    RecipientLine,
    SendRecord,
    send_key,
)
from lift_alerts.table import NOT_WRITTEN, ConditionFailed, NotWritten, Table, Written, conditional, written

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


def alert_from_item(item: dict[str, Any]) -> AlertItem:
    """An alert item as read (the table holds only what this layer wrote: see `stored`)."""
    return cast(AlertItem, from_item(item))


def message_from_item(item: dict[str, Any]) -> MessageItem:
    return cast(MessageItem, from_item(item))


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


def _shared_value(value: Any, as_list: str, as_value: str) -> dict[str, Any]:
    """`value` as the one element of a list (`as_list`) and on its own (`as_value`)."""
    serialized = _serializer.serialize(value)
    return {as_list: {"L": [serialized]}, as_value: serialized}


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


def set_entries(
    names: dict[str, str],
    values: dict[str, Any],
    sets: list[str],
    path: str,
    entries: Mapping[str, object],
    *,
    keep_first: bool = False,
) -> None:
    """Add `SET <path>.<key> = <value>` for each entry of a map attribute (placeholders named
    after the map, so several maps go in one expression). `keep_first`: an entry already
    there is kept."""
    tag = path.strip("#")[0]
    for index, (key, value) in enumerate(entries.items()):
        name, placeholder = f"#{tag}{index}", f":{tag}{index}"
        names[name] = key
        values[placeholder] = _serializer.serialize(value)
        entry = f"{path}.{name}"
        sets.append(
            f"{entry} = if_not_exists({entry}, {placeholder})" if keep_first else f"{entry} = {placeholder}"
        )


def alert_key(alert_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"alert#{alert_id}"}}


def message_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"msg#{message_id}"}}


def contact_key(phone: str) -> dict[str, Any]:
    return {"pk": {"S": f"contact#{phone}"}}


def is_alert_item(item: Mapping[str, Any]) -> bool:
    return str(item.get("pk", "")).startswith("alert#")


# Why a tap (or a YES) was not recorded: seen before, no such alert, its message is not the
# alert's, or (a YES only) the alert never asked for a confirmation (no entrapment).
TapRefusal = Literal["duplicate", "unknown_alert", "context_not_on_alert", "not_requested"]
TapResult = Written[None] | ConditionFailed[TapRefusal, None]
# Why a reply was not kept: seen before, no such alert, closed (matched by time only), or the
# alert holds as many replies as it may.
ReplyResult = Written[None] | ConditionFailed[Literal["duplicate", "unknown_alert", "closed", "full"], None]


class AlertRepository(Table):
    # -- alerts -------------------------------------------------------------------------

    def create_alert(
        self, alert: AlertItem, *, due_at: int
    ) -> Written[None] | ConditionFailed[Literal["exists"], None]:
        """Store a new alert; `exists` when an alert with this id is there already (nothing written)."""
        item: dict[str, Any] = {
            **alert,
            "pk": f"alert#{alert['alert_id']}",
            "due_shard": DUE_SHARD,
            "due_at": due_at,
        }
        result = written(
            lambda: self._db.put_item(
                TableName=self.table_name, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        )
        return result if isinstance(result, Written) else ConditionFailed("exists")

    def get_alert(self, alert_id: str) -> AlertItem | None:
        response = self._db.get_item(TableName=self.table_name, Key=alert_key(alert_id), ConsistentRead=True)
        item = response.get("Item")
        return alert_from_item(item) if item else None

    def get_messages(self, message_ids: list[str]) -> dict[str, MessageItem]:
        found: dict[str, MessageItem] = {}
        for item in self._batch_get([message_key(mid) for mid in dict.fromkeys(message_ids)]):
            message = message_from_item(item)
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
        recipients: dict[str, RecipientLine],
        messages: dict[str, MessageRef],
        failures: dict[str, Failure],
        completed_at: str,
        escalation_round: EscalationRound | None = None,
        next_due_at: int | None = None,
    ) -> AlertItem:
        """Store what a send round produced, in one write. Returns the alert after it."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        # A recipient is listed with the first message it got; reminders do not replace it.
        set_entries(names, values, sets, "recipients", recipients, keep_first=round_no > 0)
        set_entries(names, values, sets, "messages", messages)
        set_entries(names, values, sets, "failures", failures)
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
        return self._set_on_alert(alert_id, expression, names, values)

    def record_dispatched(
        self,
        alert_id: str,
        *,
        to: str,
        recipient: RecipientLine | None,
        messages: dict[str, MessageRef],
        failures: dict[str, Failure],
    ) -> AlertItem:
        """Put a message the dispatcher sent from the queue on its alert: the recipient line it
        was queued in (when the queued line is theirs), its mapping and any failure. Returns the
        alert after the write (empty when there was nothing to write)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        if recipient is not None:
            names["#to"] = to
            values[":rec"] = _serializer.serialize(recipient)
            sets.append("recipients.#to = :rec")
        set_entries(names, values, sets, "messages", messages)
        set_entries(names, values, sets, "failures", failures)
        if not sets:
            return {}
        return self._set_on_alert(alert_id, "SET " + ", ".join(sets), names, values)

    def _set_on_alert(
        self, alert_id: str, expression: str, names: dict[str, str], values: dict[str, Any]
    ) -> AlertItem:
        """Write on an alert that must exist (a missing one raises: it was never created or has
        expired, and the caller's send has nowhere to be recorded). Returns the alert after."""
        response = self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return alert_from_item(response["Attributes"])

    def close_alert(self, alert_id: str, *, closed_at: str, reason: str) -> Written[AlertItem] | NotWritten:
        """Idempotent: the first close wins and keeps its time and reason. Not written: no such alert."""
        return self._update_alert(
            alert_id,
            UpdateExpression=(
                "SET closed_at = if_not_exists(closed_at, :at), "
                "close_reason = if_not_exists(close_reason, :r) "
                # Closed is final: no more reminders of either kind.
                "REMOVE due_shard, due_at, confirm_shard, confirm_due_at"
            ),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=_values(at=closed_at, r=reason),
        )

    def _update_alert(self, alert_id: str, **update: Any) -> Written[AlertItem] | NotWritten:
        """One conditional update of an alert that returns the alert after it."""
        result = conditional(
            lambda: self._db.update_item(
                TableName=self.table_name, Key=alert_key(alert_id), ReturnValues="ALL_NEW", **update
            )
        )
        if isinstance(result, Written):
            return Written(alert_from_item(result.item["Attributes"]))
        return NOT_WRITTEN

    def _update_if(self, key: dict[str, Any], **update: Any) -> Written[None] | NotWritten:
        """One conditional update whose caller needs only whether it applied."""
        return written(lambda: self._db.update_item(TableName=self.table_name, Key=key, **update))

    # -- taps -----------------------------------------------------------------------------

    def record_tap(
        self, alert_id: str, response: dict[str, Any], *, require_message: str | None = None
    ) -> TapResult:
        """Append a tap to the alert; the first tap recorded becomes `first_response`.

        One conditional write does it all, so concurrent taps cannot both be first, the same
        tap (same WhatsApp message id) is recorded once, and escalation stops on the first tap.
        With `require_message`, the write only applies if that message belongs to the alert.
        No item is returned: parsing the whole alert (it grows with every tap) was most of a
        tap's CPU, and nothing used it. The table's stream publishes the tap.
        """
        return self._record_once_per_tap(
            alert_id,
            str(response["event_id"]),
            update=(
                "SET responses = list_append(responses, :one), "
                "first_response = if_not_exists(first_response, :response), taps.#tap = :true "
                "REMOVE due_shard, due_at, claim"
            ),
            # The response is stored twice (the list and first_response): serialised once.
            values=_shared_value(response, ":one", ":response") | _values(true=True),
            require_message=require_message,
            requires_confirmation=False,
        )

    def settle_queued_ledger(self, alert_id: str, ledger: str, key: str, entry: dict[str, Any]) -> None:
        """Replace a follow-up ledger entry recorded as queued with what became of it (sent,
        failed, skipped or dropped); an entry another run settled first stays. An absent entry
        is written too: the request that queued it may not have recorded it yet, and its
        first-write-wins record then leaves this one in place."""
        self._update_alert_if(
            alert_id,
            "SET #ledger.#key = :entry",
            "attribute_exists(#ledger) AND "
            "(attribute_not_exists(#ledger.#key) OR #ledger.#key.#error.#code = :q)",
            {"#ledger": ledger, "#key": key, "#error": "error", "#code": "code"},
            to_item({":entry": entry, ":q": QUEUED}),
        )

    def drop_queued_line(self, alert_id: str, *, to: str, round_no: int, line: dict[str, Any] | None) -> None:
        """A dropped first message: the recipient line it was queued in says so (`line`), or is
        removed (None: an escalation recipient never sent anything is not listed)."""
        values: dict[str, Any] = {":q": QUEUED, ":round": round_no}
        if line is not None:
            values[":line"] = line
        self._update_alert_if(
            alert_id,
            "REMOVE recipients.#to" if line is None else "SET recipients.#to = :line",
            "recipients.#to.send_status = :q AND recipients.#to.#round = :round",
            {"#to": to, "#round": "round"},
            to_item(values),
        )

    def _update_alert_if(
        self,
        alert_id: str,
        update: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        **options: Any,
    ) -> Written[Mapping[str, Any]] | ConditionFailed[Literal["condition_failed"], Mapping[str, Any]]:
        """One conditional update of an alert (values already in DynamoDB's form)."""
        return conditional(
            lambda: self._db.update_item(
                TableName=self.table_name,
                Key=alert_key(alert_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **options,
            )
        )

    def _record_once_per_tap(
        self,
        alert_id: str,
        tap_id: str,
        *,
        update: str,
        values: dict[str, Any],
        require_message: str | None,
        requires_confirmation: bool,
    ) -> TapResult:
        """A write made once per tap id (the alert's `taps`), on an alert that exists (and has
        asked for a confirmation), optionally only if `require_message` is one of its messages."""
        names = {"#tap": tap_id}
        condition = "attribute_exists(pk) AND attribute_not_exists(taps.#tap)"
        if requires_confirmation:
            condition += " AND attribute_exists(confirmation)"
        if require_message is not None:
            names["#msg"] = require_message
            condition += " AND attribute_exists(messages.#msg)"
        result = self._update_alert_if(
            alert_id, update, condition, names, values, ReturnValuesOnConditionCheckFailure="ALL_OLD"
        )
        if isinstance(result, Written):
            return Written(None)
        old = alert_from_item(dict(result.before)) if result.before else None
        if old is None:
            return ConditionFailed("unknown_alert")
        if tap_id in old.get("taps", {}):
            return ConditionFailed("duplicate")
        if requires_confirmation and "confirmation" not in old:
            return ConditionFailed("not_requested")
        return ConditionFailed("context_not_on_alert")

    # -- replies that are not taps (SPEC §10) -----------------------------------------------

    def record_reply(self, alert_id: str, reply: dict[str, Any], *, require_open: bool) -> ReplyResult:
        """Append a reply to the alert's `messages_received`, once per reply message id.

        One conditional write: the id joins the string set `reply_ids` (a set, not a map, so
        an alert created before replies were kept takes one too: ADD and if_not_exists need
        no attribute to exist). Nothing else changes: a reply is never a tap, so
        `responses`, the escalation index and the claim stay as they are. `require_open`
        refuses a closed alert (a reply matched by time only, never by context).
        The table's stream publishes the reply.
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
            result = conditional(
                lambda: self._db.update_item(
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
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException" and "size" in str(error.get("Message", "")):
                return ConditionFailed("full")  # the item would pass 400 KB
            raise
        if isinstance(result, Written):
            return Written(None)
        if not result.before:
            return ConditionFailed("unknown_alert")
        old = result.before  # read raw: parsing every stored reply is not needed to tell why
        if str(reply["event_id"]) in old.get("reply_ids", {}).get("SS", []):
            return ConditionFailed("duplicate")
        stored_bytes = int(old.get("reply_bytes", {}).get("N", "0"))
        if (
            len(old.get("messages_received", {}).get("L", [])) >= MAX_REPLIES_PER_ALERT
            or stored_bytes > REPLY_BYTES_PER_ALERT - size
        ):
            return ConditionFailed("full")
        return ConditionFailed("closed")

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

    def find_message(self, message_id: str) -> MessageItem | None:
        response = self._db.get_item(
            TableName=self.table_name, Key=message_key(message_id), ConsistentRead=True
        )
        item = response.get("Item")
        return message_from_item(item) if item else None

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
    ) -> Written[MessageItem] | ConditionFailed[Literal["stale"], MessageItem]:
        """Move a message's delivery status forward only: sent < delivered < read; failed is final.

        Upserts: a status that arrives before the send stored the mapping creates the item,
        and the mapping write keeps it (SPEC §6). `stale`: the message already has this
        status or a later one (`before` is the message as it is).
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
        result = conditional(
            lambda: self._db.update_item(
                TableName=self.table_name,
                Key=message_key(message_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(status_rank) OR status_rank < :rank",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        )
        if isinstance(result, Written):
            return Written(message_from_item(result.item["Attributes"]))
        return ConditionFailed("stale", message_from_item(dict(result.before)) if result.before else None)

    def record_failure(self, alert_id: str, key: str, failure: Failure) -> Written[AlertItem] | NotWritten:
        """Record one delivery failure on its alert, once: the alert after it, or not written
        when the failure is there already (or the alert is gone)."""
        return self._update_alert(
            alert_id,
            UpdateExpression="SET failures.#k = :f",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(failures.#k)",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues=_values(f=failure),
        )

    def record_fallback(
        self,
        alert_id: str,
        original_id: str,
        fallback: Fallback,
        *,
        failure: tuple[str, Failure] | None,
    ) -> Written[AlertItem] | NotWritten:
        """Record the template fallback of message `original_id` on its alert, once.

        The fallback's id joins `messages` (a tap on it matches by context.id); a fallback
        that failed adds its failure, which is published. Returns the alert after the write;
        not written when this fallback was already recorded (a re-delivered stream record).
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
        return self._update_alert(
            alert_id,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(fallbacks.#orig)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

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
        set_entries(names, values, sets, "#ledger", entries, keep_first=True)
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
    ) -> Written[None] | NotWritten:
        """Set `ledger.key.field` once (a follow-up message's failure or template fallback).

        Not written when the entry is absent or the field already set (a status or stream
        record delivered again): the first write wins.
        """
        path = "#ledger.#key.#field"
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression=f"SET {path} = :v",
            ConditionExpression=f"attribute_exists(#ledger.#key) AND attribute_not_exists({path})",
            ExpressionAttributeNames={"#ledger": ledger, "#key": key, "#field": field},
            ExpressionAttributeValues=_values(v=value),
        )

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
            phone = self.phone_for_user(sighting.user_id)
        if not phone:
            return
        # Not written: a later message of theirs is already recorded.
        self._update_if(
            contact_key(phone),
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
    ) -> Written[None] | NotWritten:
        """Claim escalation step `step` (a round, or the final 'unanswered' step) for this timer run.

        Not written when another run holds a live claim, the round was already sent, someone
        tapped, or the alert was closed. An expired claim (a run that crashed half way) can be
        taken over.
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
    ) -> Written[None] | NotWritten:
        """The timer's claim on one step of an alert, taken before anything is sent (SPEC §9).

        `condition` says the step is due and not yet done; on top of it no other run may hold a
        live claim. A claim whose lease ran out (its run crashed half way) can be taken over:
        the new run sends only to those the crashed one did not record.
        """
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression=f"SET {claim_attr} = :claim",
            ConditionExpression=(
                f"{condition} AND (attribute_not_exists({claim_attr}) OR {claim_attr}.lease_until < :now)"
            ),
            ExpressionAttributeValues=_values(now=now, claim=claim, **values),
        )

    def record_reminder(self, alert_id: str, round_no: int, recipient: str, reminder: SendRecord) -> None:
        """Remember, right after each send, who was reminded in a round: a retry skips them."""
        self.record_sent(alert_id, "reminders", round_no, recipient, reminder)

    def record_sent(
        self, alert_id: str, ledger: str, round_no: int, recipient: str, record: SendRecord
    ) -> None:
        """Right after one send of a claimed round: `<ledger>.<round>:<recipient>` (a map made
        with the alert), so a run taking over a crashed one skips this person."""
        self._db.update_item(
            TableName=self.table_name,
            Key=alert_key(alert_id),
            UpdateExpression="SET #ledger.#k = :r",
            ExpressionAttributeNames={"#ledger": ledger, "#k": send_key(round_no, recipient)},
            ExpressionAttributeValues=_values(r=record),
        )

    def clear_due(self, alert_id: str) -> Written[None] | NotWritten:
        """Drop a stale index entry of an alert that no longer escalates (not written: it
        escalates again, or is gone)."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="REMOVE due_shard, due_at",
            ConditionExpression=(
                "attribute_exists(pk) AND (size(responses) > :zero OR attribute_exists(closed_at) "
                "OR attribute_exists(unanswered_at))"
            ),
            ExpressionAttributeValues=_values(zero=0),
        )

    def bring_forward(self, alert_id: str, *, round_no: int, now: int) -> Written[None] | NotWritten:
        """All deliveries of the latest round failed: make the next step due now."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="SET due_at = :now",
            ConditionExpression="rounds_sent = :n AND attribute_exists(due_at) AND due_at > :now",
            ExpressionAttributeValues=_values(n=round_no, now=now),
        )

    def mark_unanswered(self, alert_id: str, *, at: str) -> Written[None] | NotWritten:
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="SET unanswered_at = :at REMOVE due_shard, due_at, claim",
            ConditionExpression=(
                "size(responses) = :zero AND attribute_not_exists(closed_at) "
                "AND attribute_not_exists(unanswered_at)"
            ),
            ExpressionAttributeValues=_values(at=at, zero=0),
        )

    # -- entrapment confirmation (SPEC §10) -----------------------------------------------------

    def start_confirmation(
        self, alert_id: str, confirmation: Confirmation, *, due_at: int
    ) -> Written[None] | NotWritten:
        """Ask for a confirmation once per alert: not written when it was asked before or the
        alert is closed. The index key makes the request (step 0) due at `due_at`."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression=(
                "SET confirmation = :c, confirm_sends = :empty, confirm_shard = :shard, confirm_due_at = :due"
            ),
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(confirmation) "
                "AND attribute_not_exists(closed_at)"
            ),
            ExpressionAttributeValues=_values(c=confirmation, empty={}, shard=CONFIRM_SHARD, due=due_at),
        )

    def confirmation_due_ids(self, now: int, *, limit: int = 200) -> list[str]:
        """Alerts whose next confirmation step is due, from ConfirmDueIndex (never a scan)."""
        return self._due_ids("ConfirmDueIndex", "confirm_shard", "confirm_due_at", CONFIRM_SHARD, now, limit)

    def claim_confirmation_step(
        self, alert_id: str, *, step: int, now: int, lease_until: int
    ) -> Written[None] | NotWritten:
        """Claim confirmation step `step` (0 the request, 1..N reminders, N+1 missed) for one run.

        Not written when it is not due, was done, the provider was confirmed, the confirmation
        was missed, the alert was closed, or another run holds a live claim.
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
        messages: dict[str, MessageRef],
        failures: dict[str, Failure],
        skipped: list[str],
        next_due_at: int,
        next_due_iso: str,
    ) -> Written[None] | NotWritten:
        """Complete a confirmation step in one write, once: its message mappings (taps on them
        match by context), failures, people skipped, and when the next step is due. Not
        written: another run (that took over this step) completed it first.

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
        set_entries(names, values, sets, "messages", messages)
        set_entries(names, values, sets, "failures", failures)
        _count_skips(skipped, names, values, sets)
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE confirm_claim",
            ConditionExpression="confirmation.steps_done = :step",
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def mark_confirmation_missed(self, alert_id: str, *, at: str, step: int) -> Written[None] | NotWritten:
        """Nobody tapped YES after the last reminder: recorded once (the stream publishes it)."""
        return self._update_if(
            alert_key(alert_id),
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

    def clear_confirmation_due(self, alert_id: str) -> Written[None] | NotWritten:
        """Drop the index key of a confirmation that no longer waits (confirmed, missed, closed)."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="REMOVE confirm_shard, confirm_due_at",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_exists(confirmation.confirmed_at) "
                "OR attribute_exists(confirmation.missed_at) OR attribute_exists(closed_at) "
                "OR attribute_not_exists(confirmation))"
            ),
        )

    def record_confirmation(
        self, alert_id: str, yes: dict[str, Any], *, closed_at: str, require_message: str | None = None
    ) -> TapResult:
        """Record one YES with one conditional write.

        Every YES is kept in `confirmations` (once per tap id, through the alert's `taps`).
        The first YES from anyone sets `confirmation.confirmed_at`/`confirmed_by`, closes the
        alert (reason `provider_confirmed`, unless it was closed already) and removes the
        confirmation index key (reminders stop); later ones change nothing else. A YES never
        enters `responses`: it classifies nothing. `not_requested`: the alert never asked for
        a confirmation (no entrapment).
        """
        return self._record_once_per_tap(
            alert_id,
            str(yes["event_id"]),
            update=(
                "SET confirmations = list_append(if_not_exists(confirmations, :empty), :one), "
                "taps.#tap = :true, "
                "confirmation.confirmed_at = if_not_exists(confirmation.confirmed_at, :at), "
                "confirmation.confirmed_by = if_not_exists(confirmation.confirmed_by, :by), "
                "closed_at = if_not_exists(closed_at, :closed), "
                "close_reason = if_not_exists(close_reason, :reason) "
                "REMOVE confirm_shard, confirm_due_at, confirm_claim"
            ),
            values=_values(
                empty=[],
                one=[yes],
                true=True,
                at=yes["responded_at"],
                by=yes["responder"],
                closed=closed_at,
                reason="provider_confirmed",
            ),
            require_message=require_message,
            requires_confirmation=True,
        )
