"""The order in which messages waiting for a send slot go out (SPEC §11): first alerts, then
entrapment confirmation requests, then reminders, confirmation reminders and critical
messages, then acknowledgements and notices; among first alerts the recipient's position comes
before the alarm's age, so one recipient of every waiting alarm goes before the second
recipient of any, oldest alarm first. Pure."""

from __future__ import annotations

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


def queue_key(kind: str, *, position: int, created_ms: int, alert_id: str, round_no: int, to: str) -> str:
    """The sort key that is the sending order of waiting messages (module docstring)."""
    rank = PRIORITY.get(kind, 4)
    if kind == "alert":
        # Position first: every alarm's first recipient before any alarm's second.
        return f"{rank}#{position:04d}#{created_ms:013d}#{alert_id}#{to}"
    return f"{rank}#{created_ms:013d}#{round_no:03d}#{position:04d}#{alert_id}#{to}"
