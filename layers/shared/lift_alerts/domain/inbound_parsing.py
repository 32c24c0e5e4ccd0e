"""The updates taken from a webhook body (SPEC §5, §6, §10): every tap, reply, status and
ignored item, in the order they came.

Each message and status is validated on its own (`whatsapp_payloads`), so one malformed item
never hides the rest of a batch (client libraries that read only `entry[0]...[0]` lose taps).
Text from WhatsApp is cleaned before it is kept (`text_rules.clean_foreign_text`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError

from lift_alerts.domain.alert_item import STATUS_RANK
from lift_alerts.domain.inbound import Ignored, Reply, ReplyLocation, ReplyType, StatusUpdate, Tap, Update
from lift_alerts.domain.text_rules import clean_foreign_text
from lift_alerts.domain.timestamps import iso, iso_from_epoch
from lift_alerts.domain.whatsapp_payloads import (
    Contact,
    ContactCard,
    Message,
    Status,
    StatusError,
    WooshStatusCallback,
    WooshStatusWrapper,
)


class NotAWebhookPayload(ValueError):
    """The body is JSON but not something WhatsApp or Woosh sends."""


# WhatsApp's `type` of a message that is a reply we keep (SPEC §10); `audio` splits in two.
REPLY_TYPES = frozenset({"text", "audio", "image", "video", "document", "location", "contacts"})
REPLY_TEXT_MAX = 4096  # WhatsApp's own limit for a text message; captions count as text


def moment(value: str | int | None) -> str:
    """WhatsApp sends Unix seconds as strings; Woosh's own callback sends ISO 8601."""
    if value is not None:
        try:
            return iso_from_epoch(int(str(value)))
        except (ValueError, OverflowError, OSError):
            pass
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return iso(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
        except ValueError:
            pass
    return iso(datetime.now(UTC))


def extract_updates(payload: Any) -> list[Update]:
    """Every tap, reply, status and ignored item in a webhook body, in the order they came."""
    if not isinstance(payload, dict):
        raise NotAWebhookPayload("the body must be a JSON object")
    if "entry" not in payload:
        bridge_event = payload.get("type")
        if bridge_event == "message.status" and isinstance(payload.get("data"), dict):
            return [_woosh_wrapped_status(payload)]
        if "wa_id" in payload and "status" in payload:
            return [_woosh_status(payload)]
        if isinstance(bridge_event, str) and isinstance(payload.get("data"), dict):
            # Another event in the Bridge's wrapper: ours to accept, nothing to act on.
            return [Ignored(reason=f"bridge:{bridge_event[:40]}")]
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise NotAWebhookPayload("a WhatsApp webhook body has an `entry` list")
    updates: list[Update] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            updates.append(Ignored(reason="malformed_entry"))
            continue
        for change in changes:
            updates += _change_updates(change)
    return updates


def _woosh_status(payload: dict[str, Any]) -> Update:
    try:
        callback = WooshStatusCallback.model_validate(payload)
    except ValidationError:
        return Ignored(reason="malformed_status")
    return _status_update(callback.wa_id, callback.status, callback.timestamp, None)


def _woosh_wrapped_status(payload: dict[str, Any]) -> Update:
    try:
        wrapper = WooshStatusWrapper.model_validate(payload)
    except ValidationError:
        return Ignored(reason="malformed_status")
    status = wrapper.data
    message_id = status.id or wrapper.wa_id
    if not message_id or not status.status:
        return Ignored(reason="malformed_status")
    first_error = status.errors[0] if status.errors else None
    timestamp = status.timestamp if status.timestamp is not None else wrapper.event_ts
    return _status_update(message_id, status.status, timestamp, first_error)


def _change_updates(change: Any) -> list[Update]:
    if not isinstance(change, dict):
        return [Ignored(reason="malformed_change")]
    if change.get("field") != "messages":
        return [Ignored(reason=f"field:{str(change.get('field'))[:40]}")]
    value = change.get("value")
    if not isinstance(value, dict):
        return [Ignored(reason="malformed_change")]
    contacts = [_contact(c) for c in _list(value.get("contacts"))]
    updates: list[Update] = [_message_update(m, contacts) for m in _list(value.get("messages"))]
    updates += [_raw_status_update(s) for s in _list(value.get("statuses"))]
    if not updates:
        updates.append(Ignored(reason="no_messages_or_statuses"))
    return updates


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _contact(raw: Any) -> Contact | None:
    try:
        return Contact.model_validate(raw)
    except ValidationError:
        return None


def _message_update(raw: Any, contacts: list[Contact | None]) -> Update:
    try:
        message = Message.model_validate(raw)
    except ValidationError:
        return Ignored(reason="malformed_message")
    if message.type == "interactive" and message.interactive and message.interactive.type == "button_reply":
        reply = message.interactive.button_reply
        button_id, title = (reply.id, reply.title) if reply else (None, None)
    elif message.type == "button" and message.button is not None:
        button_id, title = message.button.payload, message.button.text
    elif message.type in REPLY_TYPES and clean_foreign_text(message.id, 256):
        return _reply(message, contacts)
    else:
        return _other_message(message, contacts)
    if not message.id:
        return Ignored(reason="tap_without_id")
    contact = _contact_for(message, contacts)
    name = contact.profile.name if contact and contact.profile else None
    wa_id = message.from_ or (contact.wa_id if contact else None)
    return Tap(
        tap_id=clean_foreign_text(message.id, 256) or "",
        button_id=clean_foreign_text(button_id, 256),
        button_title=clean_foreign_text(title, 64),
        context_id=clean_foreign_text(message.context.id, 256) if message.context else None,
        wa_id=clean_foreign_text(wa_id, 32),
        user_id=clean_foreign_text(message.from_user_id or (contact.user_id if contact else None), 128),
        name=clean_foreign_text(name, 128),
        responded_at=moment(message.timestamp),
    )


def _reply(message: Message, contacts: list[Contact | None]) -> Reply:
    contact = _contact_for(message, contacts)
    name = contact.profile.name if contact and contact.profile else None
    kind = str(message.type)
    media = {"image": message.image, "video": message.video, "document": message.document}.get(kind)
    if kind == "audio":
        media = message.audio
        if media is not None and media.voice:
            kind = "voice"
    text: str | None = None
    location: ReplyLocation | None = None
    if kind == "text" and message.text is not None:
        text = message.text.body
    elif media is not None:
        text = media.caption
    elif kind == "location" and message.location is not None:
        place = message.location
        location = ReplyLocation(
            latitude=place.latitude,
            longitude=place.longitude,
            name=clean_foreign_text(place.name, 256),
            address=clean_foreign_text(place.address, 512),
        )
    elif kind == "contacts":
        text = contact_cards_summary(message.contacts or [])
    return Reply(
        reply_id=clean_foreign_text(message.id, 256) or "",
        type=cast(ReplyType, kind),  # one of REPLY_TYPES, or "voice"
        text=clean_foreign_text(text, REPLY_TEXT_MAX, allow_newlines=True) or None,
        media_id=clean_foreign_text(media.id, 256) if media else None,
        mime_type=clean_foreign_text(media.mime_type, 128) if media else None,
        filename=clean_foreign_text(media.filename, 256) if media else None,
        location=location,
        context_id=clean_foreign_text(message.context.id, 256) if message.context else None,
        wa_id=clean_foreign_text(_digits(message.from_ or (contact.wa_id if contact else None)), 32),
        user_id=clean_foreign_text(message.from_user_id or (contact.user_id if contact else None), 128),
        name=clean_foreign_text(name, 128),
        received_at=moment(message.timestamp),
    )


def contact_cards_summary(cards: list[ContactCard]) -> str | None:
    """A shared contact card in one line: the first card's name and phone, and how many more."""
    if not cards:
        return None
    first = cards[0]
    card_name = first.name
    name = None
    if card_name is not None:
        name = card_name.formatted_name or " ".join(
            part for part in (card_name.first_name, card_name.last_name) if part
        )
    phone = next((p.phone or p.wa_id for p in first.phones or [] if p.phone or p.wa_id), None)
    summary = " ".join(part for part in (name, phone) if part) or "contact card"
    if len(cards) > 1:
        summary += f" (+{len(cards) - 1} more)"
    return summary


def _digits(value: str | None) -> str | None:
    # WhatsApp sends digits; a `+` would make one person two (recipients are stored as digits).
    return value.strip().lstrip("+") if isinstance(value, str) else None


def _other_message(message: Message, contacts: list[Contact | None]) -> Ignored:
    contact = _contact_for(message, contacts)
    return Ignored(
        reason=f"message:{str(message.type)[:40]}",
        wa_id=clean_foreign_text(message.from_ or (contact.wa_id if contact else None), 32),
        user_id=clean_foreign_text(message.from_user_id or (contact.user_id if contact else None), 128),
        at=moment(message.timestamp),
    )


def _contact_for(message: Message, contacts: list[Contact | None]) -> Contact | None:
    known = [c for c in contacts if c is not None]
    for contact in known:
        if (message.from_ and contact.wa_id == message.from_) or (
            message.from_user_id and contact.user_id == message.from_user_id
        ):
            return contact
    return known[0] if len(known) == 1 else None


def _raw_status_update(raw: Any) -> Update:
    try:
        status = Status.model_validate(raw)
    except ValidationError:
        return Ignored(reason="malformed_status")
    if not status.id or not status.status:
        return Ignored(reason="malformed_status")
    first_error = status.errors[0] if status.errors else None
    return _status_update(status.id, status.status, status.timestamp, first_error)


def _status_update(
    message_id: str, status: str, timestamp: str | int | None, error: StatusError | None
) -> Update:
    if status not in STATUS_RANK or status == "accepted":
        return Ignored(reason=f"status:{status[:40]}")
    detail = None
    if status == "failed":
        detail = {
            "code": str(error.code) if error and error.code is not None else "failed",
            "title": clean_foreign_text((error.title or error.message) if error else None, 200)
            or "delivery failed",
        }
    return StatusUpdate(
        message_id=clean_foreign_text(message_id, 256) or "",
        status=status,
        at=moment(timestamp),
        error=detail,
    )
