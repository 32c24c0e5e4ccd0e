"""The alert items of the alerts table (`alert#<alert_id>`): their key, and the writes of an
alert's life that are not answers, timed steps or ledgers (those have repositories of their own
in this package, over the same items).

An alert item holds the alert, its recipients, every recorded tap (`responses`), delivery
failures, escalation rounds and the sparse escalation index key (`due_shard`/`due_at`,
present only while the alert waits for a step); after an entrapment, its `confirmation`
(SPEC §10) and a second sparse index key (`confirm_shard`/`confirm_due_at`, present only
while a confirmation step waits: a tap removes `due_*`, never these).

The table's stream is the outbox: every event is derived from a change of an alert item
(`domain.events`), so recording a tap and publishing it cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from lift_alerts.domain.alert_item import (
    AlertItem,
    EscalationRound,
    Failure,
    Fallback,
    MessageRef,
    RecipientLine,
)
from lift_alerts.domain.deliveries import RoundRecords
from lift_alerts.store.codec import expression_values, from_item, serialize, set_entries, to_item
from lift_alerts.store.table import (
    NOT_WRITTEN,
    ConditionFailed,
    NotWritten,
    Table,
    Written,
    conditional,
    written,
)

DUE_SHARD = "due"
CONFIRM_SHARD = "confirm"
# An alert's partition of the list index (`list_state`, store.alert_listing).
LIST_OPEN, LIST_CLOSED = "open", "closed"


def alert_key(alert_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"alert#{alert_id}"}}


def is_alert_item(item: Mapping[str, Any]) -> bool:
    return str(item.get("pk", "")).startswith("alert#")


def alert_from_item(item: dict[str, Any]) -> AlertItem:
    """An alert item as read (the table holds only what this layer wrote: see `domain.alert_item`)."""
    return cast(AlertItem, from_item(item))


def count_skips(skipped: list[str], names: dict[str, str], values: dict[str, Any], sets: list[str]) -> None:
    """Add one to `notices_skipped.<phone>` per person outside the window with no template."""
    if skipped:
        values[":zero"] = serialize(0)
        values[":one"] = serialize(1)
    for index, to in enumerate(dict.fromkeys(skipped)):
        names[f"#s{index}"] = to
        path = f"notices_skipped.#s{index}"
        sets.append(f"{path} = if_not_exists({path}, :zero) + :one")


class AlertTable(Table):
    """Writes on alert items that every repository of the alert family shares."""

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


class AlertRepository(AlertTable):
    """An alert's creation, its rounds' results, failures, fallbacks and closing."""

    def create_alert(
        self, alert: AlertItem, *, due_at: int
    ) -> Written[None] | ConditionFailed[Literal["exists"], None]:
        """Store a new alert; `exists` when an alert with this id is there already (nothing written)."""
        item: dict[str, Any] = {
            **alert,
            "pk": f"alert#{alert['alert_id']}",
            "due_shard": DUE_SHARD,
            "due_at": due_at,
            # The list index's partition (store.alert_listing): "closed" from the close on.
            "list_state": LIST_OPEN,
        }
        result = written(
            lambda: self._db.put_item(
                TableName=self.table_name, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        )
        return result if isinstance(result, Written) else ConditionFailed("exists")

    def get_alert(self, alert_id: str) -> AlertItem | None:
        item = self._get(alert_key(alert_id))
        return alert_from_item(item) if item else None

    def get_alerts(self, alert_ids: list[str]) -> dict[str, AlertItem]:
        """Alerts by id, eventually consistent (the desk's list); those gone are left out."""
        items = self._batch_get([alert_key(alert_id) for alert_id in alert_ids], consistent=False)
        return {str(alert["alert_id"]): alert for alert in map(alert_from_item, items)}

    def record_round_results(
        self,
        alert_id: str,
        *,
        round_no: int,
        records: RoundRecords,
        completed_at: str,
        escalation_round: EscalationRound | None = None,
        next_due_at: int | None = None,
    ) -> AlertItem:
        """Store what a send round produced (`domain.deliveries.round_records`), in one write.
        Returns the alert after it."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        # A recipient is listed with the first message it got; reminders do not replace it.
        set_entries(names, values, sets, "recipients", records.recipients, keep_first=round_no > 0)
        set_entries(names, values, sets, "messages", records.messages)
        set_entries(names, values, sets, "failures", records.failures)
        names["#round"] = str(round_no)
        values[":completed"] = serialize(completed_at)
        sets.append("completed_rounds.#round = :completed")
        if escalation_round is not None:
            values[":round"] = serialize(escalation_round)
            values[":n"] = serialize(round_no)
            sets.append("rounds.#round = :round")
            sets.append("rounds_sent = :n")
            if next_due_at is not None:
                # Set even if a tap arrived meanwhile; the timer then finds the alert answered
                # and clears the key (`clear_due`). Setting it later could be lost in a crash.
                values[":shard"] = serialize(DUE_SHARD)
                values[":due"] = serialize(next_due_at)
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
            values[":rec"] = serialize(recipient)
            sets.append("recipients.#to = :rec")
        set_entries(names, values, sets, "messages", messages)
        set_entries(names, values, sets, "failures", failures)
        if not sets:
            return {}
        return self._set_on_alert(alert_id, "SET " + ", ".join(sets), names, values)

    def close_alert(self, alert_id: str, *, closed_at: str, reason: str) -> Written[AlertItem] | NotWritten:
        """Idempotent: the first close wins and keeps its time and reason. Not written: no such alert."""
        return self._update_alert(
            alert_id,
            UpdateExpression=(
                "SET closed_at = if_not_exists(closed_at, :at), "
                "close_reason = if_not_exists(close_reason, :r), list_state = :closed "
                # Closed is final: no more reminders of either kind.
                "REMOVE due_shard, due_at, confirm_shard, confirm_due_at"
            ),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=expression_values(at=closed_at, r=reason, closed=LIST_CLOSED),
        )

    def record_failure(self, alert_id: str, key: str, failure: Failure) -> Written[AlertItem] | NotWritten:
        """Record one delivery failure on its alert, once: the alert after it, or not written
        when the failure is there already (or the alert is gone)."""
        return self._update_alert(
            alert_id,
            UpdateExpression="SET failures.#k = :f",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(failures.#k)",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues=expression_values(f=failure),
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
        values = expression_values(fb=fallback)
        sets = ["fallbacks.#orig = :fb"]
        message_id = fallback.get("message_id")
        if message_id:
            names["#mid"] = str(message_id)
            values.update(
                expression_values(
                    msg={"to": fallback["to"], "round": fallback["round"], "channel": "template"}
                )
            )
            sets.append("messages.#mid = :msg")
        if failure is not None:
            names["#fk"] = failure[0]
            values.update(expression_values(fail=failure[1]))
            sets.append("failures.#fk = :fail")
        return self._update_alert(
            alert_id,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(fallbacks.#orig)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
