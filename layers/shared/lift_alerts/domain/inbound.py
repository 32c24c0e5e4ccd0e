"""The updates the service acts on: taps, replies, delivery statuses and ignored items.

Kept apart from the WhatsApp payload models (whatsapp.py) that they are read from: the
parked function decodes updates the webhook already extracted and parked, and needs these
few models, not the twenty that mirror Meta's and the Bridge's payloads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Tap(BaseModel):
    kind: Literal["tap"] = "tap"
    tap_id: str
    button_id: str | None
    button_title: str | None
    context_id: str | None
    wa_id: str | None
    user_id: str | None
    name: str | None
    responded_at: str


class StatusUpdate(BaseModel):
    kind: Literal["status"] = "status"
    message_id: str
    status: str
    at: str
    error: dict[str, str] | None = None


ReplyType = Literal["text", "voice", "audio", "image", "video", "document", "location", "contacts"]


class ReplyLocation(BaseModel):
    latitude: float | None
    longitude: float | None
    name: str | None
    address: str | None


class Reply(BaseModel):
    """A message from a person that is not a tap: text, voice note, media, location, contact card."""

    kind: Literal["reply"] = "reply"
    reply_id: str
    type: ReplyType
    text: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    location: ReplyLocation | None = None
    context_id: str | None = None
    wa_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    received_at: str


class Ignored(BaseModel):
    kind: Literal["ignored"] = "ignored"
    reason: str
    # A message that is not a tap still opens its sender's 24-hour window (SPEC §5).
    wa_id: str | None = None
    user_id: str | None = None
    at: str | None = None


Update = Tap | StatusUpdate | Reply | Ignored
