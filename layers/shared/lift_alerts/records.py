"""Small record builders shared by the send path and the webhook path.

Kept apart from `alerts` so the webhook, which needs only these, does not import the send
path's Woosh client (`requests`) and request models at cold start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lift_alerts.clock import epoch
from lift_alerts.config import Settings


def expiry(settings: Settings, now: datetime) -> int:
    return epoch(now) + settings.retention_days * 86_400


def failure_record(
    alert_id: str,
    round_no: int,
    to: str,
    message_id: str | None,
    error: dict[str, Any],
    *,
    replaced_by_fallback: bool = False,
    fallback: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The key and value of one delivery failure on the alert; the key makes it recorded once.

    `replaced_by_fallback`: a 131047 failure the template fallback replaces (or will): kept
    for the history, neither published nor counted as a failed delivery of the round.
    `fallback`: the failure is the fallback's own (a send that failed has no message id, so
    its key must differ from the original's).
    """
    suffix = ":fallback" if fallback else ""
    if message_id is None:
        key, event_id = f"send:{round_no}:{to}{suffix}", f"{alert_id}:{round_no}:{to}{suffix}:failed"
    else:
        key, event_id = message_id, f"{message_id}:failed"
    error = {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))}
    record: dict[str, Any] = {
        "event_id": event_id,
        "recipient": to,
        "message_id": message_id,
        "error": error,
        "round": round_no,
    }
    if replaced_by_fallback:
        record["replaced_by_fallback"] = True
    return key, record


# -- follow-up ledgers (acknowledgements, notices, critical messages: SPEC §10) ---------------------

# Alert maps that are not follow-up ledgers (their entries never carry `kind` and `sent_at`
# together, but naming them keeps a future field from being taken for one).
_NOT_LEDGERS = frozenset(
    {"recipients", "messages", "failures", "fallbacks", "reminders", "rounds", "completed_rounds", "taps"}
)
# The message kinds the notice template (NOTICE_TEMPLATE_NAME) stands in for outside the window.
NOTICE_KINDS = frozenset({"ack", "notice", "critical"})


def is_follow_up_message(message: dict[str, Any]) -> bool:
    """A msg# item of a follow-up message: no alert round, a kind other than alert/reminder."""
    return "round_no" not in message and message.get("kind") not in (None, "alert", "reminder")


def follow_up_template(settings: Settings, kind: str | None) -> str | None:
    """The approved template a follow-up message of `kind` falls back to, if any."""
    return settings.notice_template_name if kind in NOTICE_KINDS else None


def ledger_entries(alert: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every follow-up ledger entry on the alert: (ledger, key, entry), as `send_once` wrote them."""
    found = []
    for ledger, entries in alert.items():
        if ledger in _NOT_LEDGERS or not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            if isinstance(entry, dict) and "kind" in entry and "sent_at" in entry and "to" in entry:
                found.append((ledger, str(key), entry))
    return found


def find_ledger_entry(alert: dict[str, Any], message_id: str) -> tuple[str, str, str] | None:
    """The ledger entry that sent `message_id`: (ledger, key, field the failure goes in).

    `failure` for the entry's own message, `fallback_failure` for its template fallback.
    """
    for ledger, key, entry in ledger_entries(alert):
        if entry.get("message_id") == message_id:
            return ledger, key, "failure"
        if (entry.get("fallback") or {}).get("message_id") == message_id:
            return ledger, key, "fallback_failure"
    return None
