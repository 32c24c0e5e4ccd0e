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
    alert_id: str, round_no: int, to: str, message_id: str | None, error: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The key and value of one delivery failure on the alert; the key makes it recorded once."""
    if message_id is None:
        key, event_id = f"send:{round_no}:{to}", f"{alert_id}:{round_no}:{to}:failed"
    else:
        key, event_id = message_id, f"{message_id}:failed"
    error = {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))}
    return key, {
        "event_id": event_id,
        "recipient": to,
        "message_id": message_id,
        "error": error,
        "round": round_no,
    }
