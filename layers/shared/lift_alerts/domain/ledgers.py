"""Follow-up ledgers (SPEC §10): the alert maps that record acknowledgements, notices, critical
messages and confirmation notices, one entry per key, as `flows.follow_up_sends.send_once`
writes them; and which approved template a follow-up message falls back to. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lift_alerts.domain.alert_item import AlertItem, MessageItem
from lift_alerts.platform.config import Settings

# Alert maps that are not follow-up ledgers (their entries never carry `kind` and `sent_at`
# together, but naming them keeps a future field from being taken for one).
_NOT_LEDGERS = frozenset(
    {"recipients", "messages", "failures", "fallbacks", "reminders", "rounds", "completed_rounds", "taps"}
)
# The message kinds the notice template (NOTICE_TEMPLATE_NAME) stands in for outside the window.
NOTICE_KINDS = frozenset({"ack", "notice", "critical", "confirm_confirmed", "confirm_missed"})


def is_follow_up_message(message: MessageItem) -> bool:
    """A msg# item of a follow-up message: no alert round, a kind other than alert/reminder."""
    return "round_no" not in message and message.get("kind") not in (None, "alert", "reminder")


def follow_up_template(settings: Settings, kind: str | None) -> str | None:
    """The approved template a follow-up message of `kind` falls back to, if any."""
    return settings.notice_template_name if kind in NOTICE_KINDS else None


def ledger_of(alert: AlertItem, name: str) -> dict[str, dict[str, Any]]:
    """A follow-up ledger of the alert by name (empty when the alert has none)."""
    entries = alert.get(name, {})
    return entries if isinstance(entries, dict) else {}


def ledger_entries(alert: AlertItem) -> list[tuple[str, str, dict[str, Any]]]:
    """Every follow-up ledger entry on the alert: (ledger, key, entry), as `send_once` wrote them."""
    found = []
    for name, entries in alert.items():
        if name in _NOT_LEDGERS or not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            if isinstance(entry, dict) and "kind" in entry and "sent_at" in entry and "to" in entry:
                found.append((name, str(key), entry))
    return found


def find_ledger_entry(alert: AlertItem, message_id: str) -> tuple[str, str, str] | None:
    """The ledger entry that sent `message_id`: (ledger, key, field the failure goes in).

    `failure` for the entry's own message, `fallback_failure` for its template fallback.
    """
    for name, key, entry in ledger_entries(alert):
        if entry.get("message_id") == message_id:
            return name, key, "failure"
        if (entry.get("fallback") or {}).get("message_id") == message_id:
            return name, key, "fallback_failure"
    return None


def fallbacks_due(old: AlertItem | None, new: AlertItem | None) -> list[tuple[str, Mapping[str, Any]]]:
    """The failures this change added that a template fallback replaces: (message id, failure).

    A failure refused at send time (no message id) was already replaced by the send step.
    """
    if new is None:
        return []
    before = (old or {}).get("failures", {})
    due: list[tuple[str, Mapping[str, Any]]] = [
        (key, failure)
        for key, failure in new.get("failures", {}).items()
        if key not in before and failure.get("replaced_by_fallback") and failure.get("message_id")
    ]
    # Follow-up messages (acknowledgements, notices, …): the failure is on their ledger entry
    # (a later `failed` status), or the entry was written already failed (a status that came
    # before the mapping: `early_fallback`).
    earlier = {(ledger, key): entry for ledger, key, entry in ledger_entries(old or {})}
    for ledger, key, entry in ledger_entries(new):
        prior = earlier.get((ledger, key))
        failure = entry.get("failure") or {}
        newly_failed = bool(failure.get("replaced_by_fallback")) and not (prior or {}).get("failure")
        born_failed = bool(entry.get("early_fallback")) and prior is None
        if entry.get("message_id") and (newly_failed or born_failed):
            due.append(
                (
                    str(entry["message_id"]),
                    {"ledger": ledger, "key": key, "recipient": entry["to"], "kind": entry["kind"]},
                )
            )
    return due
