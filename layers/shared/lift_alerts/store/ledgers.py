"""Send ledgers on an alert item: what each send of a claimed round or a follow-up message
came to, written right after Woosh answered (a run taking over skips those people), and the
queued entries the dispatcher settles (SPEC §9, §10, §11)."""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.alert_facts import send_key
from lift_alerts.domain.alert_item import QUEUED, SendRecord
from lift_alerts.store.alerts import AlertTable, alert_key, count_skips
from lift_alerts.store.codec import expression_values, set_entries, to_item
from lift_alerts.store.table import NotWritten, Written


class LedgerRepository(AlertTable):
    """Per-send records of rounds (`reminders`, `confirm_sends`) and follow-up ledgers."""

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
            ExpressionAttributeValues=expression_values(r=record),
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
        count_skips(skipped, names, values, sets)
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
            ExpressionAttributeValues=expression_values(v=value),
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
