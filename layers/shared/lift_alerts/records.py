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
