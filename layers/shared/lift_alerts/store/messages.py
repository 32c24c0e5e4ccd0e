"""The message items of the alerts table (`msg#<message_id>`): one message we sent, which
alert and recipient it belongs to, and its delivery status (created by a status that arrives
before the mapping, then completed). Alerts and reminders also carry `sent_at`, which puts
them in the sparse `ReplyIndex` (`recipient`, `sent_at`): a reply quoting nothing finds the
alert last sent to its sender.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from lift_alerts.domain.alert_item import STATUS_RANK, MessageItem, status_time_attribute
from lift_alerts.domain.timestamps import iso_from_epoch
from lift_alerts.store.codec import expression_values, from_item
from lift_alerts.store.table import ConditionFailed, Table, Written, conditional

REPLY_INDEX = "ReplyIndex"
# The messages that page a person about an alert. Only they join ReplyIndex: a reply that
# quotes nothing goes to "the latest alert sent to that person" (SPEC §10), and a notice or
# an acknowledgement about an older alert must not make that older alert look the latest.
PAGING_KINDS = frozenset({"alert", "reminder"})


def message_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"msg#{message_id}"}}


def message_from_item(item: dict[str, Any]) -> MessageItem:
    return cast(MessageItem, from_item(item))


class MessageRepository(Table):
    """Message mappings and their delivery statuses."""

    def get_messages(self, message_ids: list[str], *, consistent: bool = True) -> dict[str, MessageItem]:
        found: dict[str, MessageItem] = {}
        keys = [message_key(mid) for mid in dict.fromkeys(message_ids)]
        for item in self._batch_get(keys, consistent=consistent):
            message = message_from_item(item)
            found[str(message["pk"]).removeprefix("msg#")] = message
        return found

    def find_message(self, message_id: str) -> MessageItem | None:
        item = self._get(message_key(message_id))
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
        `sent_at` (Unix seconds) is kept as `sent_time` (ISO 8601, for the desk's timeline) and
        puts an alert or reminder in ReplyIndex (PAGING_KINDS).
        """
        expression = (
            "SET alert_id = :a, recipient = :r, kind = :k, expires_at = :exp, channel = :c, "
            "delivery_status = if_not_exists(delivery_status, :accepted), "
            "status_rank = if_not_exists(status_rank, :zero)"
        )
        values = expression_values(
            a=alert_id, r=recipient, k=kind, exp=expires_at, c=channel, accepted="accepted", zero=0
        )
        if round_no is not None:
            expression += ", round_no = :n"
            values.update(expression_values(n=round_no))
        if fallback_for is not None:
            expression += ", fallback_for = :f"
            values.update(expression_values(f=fallback_for))
        if sent_at is not None:
            # Kept from the first store: a resumed send must not make an old alert look new.
            expression += ", sent_time = if_not_exists(sent_time, :sent_time)"
            values.update(expression_values(sent_time=iso_from_epoch(sent_at)))
        if sent_at is not None and kind in PAGING_KINDS:
            expression += ", sent_at = if_not_exists(sent_at, :sent)"
            values.update(expression_values(sent=sent_at))
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

        Each status's time is kept too (`status_<status>_at`, the first time wins), in the same
        write, for the desk's timeline (SPEC §13); a status that arrives after a later one
        (out of order: `stale`) still gets its time, with one more write, once.
        """
        rank = STATUS_RANK[status]
        history = status_time_attribute(status)
        expression = (
            "SET delivery_status = :s, status_rank = :rank, status_at = :at, "
            f"{history} = if_not_exists({history}, :at), "
            "expires_at = if_not_exists(expires_at, :exp)"
        )
        values = expression_values(s=status, rank=rank, at=at, exp=expires_at)
        if error is not None:
            expression += ", delivery_error = :err"
            values.update(expression_values(err=error))
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
        before = message_from_item(dict(result.before)) if result.before else None
        if before is not None and history not in before:
            self._keep_late_status_time(message_id, history, at)
        return ConditionFailed("stale", before)

    def _keep_late_status_time(self, message_id: str, history: str, at: str) -> None:
        """The time of a status that came after a later one (`delivered` after `read`), once."""
        conditional(
            lambda: self._db.update_item(
                TableName=self.table_name,
                Key=message_key(message_id),
                UpdateExpression=f"SET {history} = :at",
                ConditionExpression=f"attribute_exists(pk) AND attribute_not_exists({history})",
                ExpressionAttributeValues=expression_values(at=at),
            )
        )

    def recently_paged_alert_ids(self, phone: str, *, since: int, until: int, limit: int = 25) -> list[str]:
        """Alerts whose alert or reminder reached `phone` between `since` and `until`, latest
        first, each once: one Query of the sparse ReplyIndex (never a scan)."""
        response = self._db.query(
            TableName=self.table_name,
            IndexName=REPLY_INDEX,
            KeyConditionExpression="recipient = :to AND sent_at BETWEEN :since AND :until",
            ExpressionAttributeValues=expression_values(to=phone, since=since, until=until),
            ScanIndexForward=False,
            Limit=limit,
        )
        found = [str(item["alert_id"]["S"]) for item in response.get("Items", []) if "alert_id" in item]
        return list(dict.fromkeys(found))
