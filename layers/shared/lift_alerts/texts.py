"""What the service says to people on WhatsApp (SPEC §10): pure functions, one section each.

Every message text is built here from plain values, so each can be unit-tested without
sockets and read in one place.
"""

from __future__ import annotations

# -- acknowledgement of a reply that is not a tap ------------------------------------------------

REPLY_NOUNS = {
    "text": "message",
    "voice": "voice note",
    "audio": "audio",
    "image": "photo",
    "video": "video",
    "document": "document",
    "location": "location",
    "contacts": "contact card",
}


def reply_ack_text(*, reply_type: str, ticket_id: str, lift_id: str, site: str) -> str:
    """Tells the person their reply reached the people handling the alarm, and which one."""
    noun = REPLY_NOUNS.get(reply_type, "message")
    place = f"{lift_id} at {site}" if site else lift_id
    return f"Thank you. Your {noun} was passed on to the rescue desk for {ticket_id} ({place})."
