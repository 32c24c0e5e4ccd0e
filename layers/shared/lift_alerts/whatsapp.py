"""What WhatsApp (through Woosh) posts to the webhook, and the updates we take from it.

Models mirror Meta's payload and are lenient: unknown fields are ignored and optional
fields optional. Each message and status is validated on its own, so one malformed item
never hides the rest of a batch (client libraries that read only `entry[0]...[0]` lose taps).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from lift_alerts.clock import iso
from lift_alerts.inbound import Ignored, Reply, ReplyLocation, ReplyType, StatusUpdate, Tap, Update
from lift_alerts.stored import STATUS_RANK
from lift_alerts.text import clean_foreign_text


class NotAWebhookPayload(ValueError):
    """The body is JSON but not something WhatsApp or Woosh sends."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ButtonReply(_Lenient):
    id: str | None = None
    title: str | None = None


class Interactive(_Lenient):
    type: str | None = None
    button_reply: ButtonReply | None = None


class QuickReply(_Lenient):
    payload: str | None = None
    text: str | None = None


class Context(_Lenient):
    id: str | None = None
    from_: str | None = Field(default=None, alias="from")


def _none_if_malformed(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A part we only read for detail must never make an item unreadable: a `failed` lost
    # because its `errors` or `pricing` changed shape would be a failure nobody hears of, and
    # a reply whose caption has an odd type is still a reply.
    try:
        return handler(value)
    except ValidationError:
        return None


def _coordinate(limit: float) -> Any:
    """A latitude or longitude within ±`limit`, else None (NaN and 1e999 are valid JSON to Python)."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            number = handler(value)
        except ValidationError:
            return None
        return number if number is not None and math.isfinite(number) and abs(number) <= limit else None

    return WrapValidator(check)


class TextPart(_Lenient):
    body: str | None = None


class MediaPart(_Lenient):
    """image, video, document, audio (and voice notes: audio with `voice: true`)."""

    id: str | None = None
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None


class LocationPart(_Lenient):
    latitude: Annotated[float | None, _coordinate(90.0)] = None
    longitude: Annotated[float | None, _coordinate(180.0)] = None
    name: str | None = None
    address: str | None = None


class CardName(_Lenient):
    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class CardPhone(_Lenient):
    phone: str | None = None
    wa_id: str | None = None


class ContactCard(_Lenient):
    name: Annotated[CardName | None, WrapValidator(_none_if_malformed)] = None
    phones: Annotated[list[CardPhone] | None, WrapValidator(_none_if_malformed)] = None


class Message(_Lenient):
    id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    timestamp: str | int | None = None
    type: str | None = None
    interactive: Interactive | None = None
    button: QuickReply | None = None
    context: Context | None = None
    # The parts of a reply that is not a tap (SPEC §10); each read leniently on its own.
    text: Annotated[TextPart | None, WrapValidator(_none_if_malformed)] = None
    image: Annotated[MediaPart | None, WrapValidator(_none_if_malformed)] = None
    video: Annotated[MediaPart | None, WrapValidator(_none_if_malformed)] = None
    document: Annotated[MediaPart | None, WrapValidator(_none_if_malformed)] = None
    audio: Annotated[MediaPart | None, WrapValidator(_none_if_malformed)] = None
    location: Annotated[LocationPart | None, WrapValidator(_none_if_malformed)] = None
    contacts: Annotated[list[ContactCard] | None, WrapValidator(_none_if_malformed)] = None


class Profile(_Lenient):
    name: str | None = None


class Contact(_Lenient):
    wa_id: str | None = None
    user_id: str | None = None
    profile: Profile | None = None


class StatusError(_Lenient):
    code: int | str | None = None
    title: str | None = None
    message: str | None = None


class Status(_Lenient):
    id: str | None = None
    status: str | None = None
    timestamp: str | int | None = None
    recipient_id: str | None = None
    errors: Annotated[list[StatusError] | None, WrapValidator(_none_if_malformed)] = None


class WooshStatusCallback(_Lenient):
    """The Bridge's older simplified status callback: `wa_id` is the message id."""

    wa_id: str
    status: str
    to: str | None = None
    timestamp: str | int | None = None


class ConversationOrigin(_Lenient):
    type: str | None = None


class Conversation(_Lenient):
    id: str | None = None
    origin: ConversationOrigin | None = None


class Pricing(_Lenient):
    billable: bool | None = None
    pricing_model: str | None = None
    category: str | None = None


class WooshStatusData(Status):
    """Meta's status object as the Bridge's wrapper carries it in `data`."""

    conversation: Annotated[Conversation | None, WrapValidator(_none_if_malformed)] = None
    pricing: Annotated[Pricing | None, WrapValidator(_none_if_malformed)] = None


class WooshStatusWrapper(_Lenient):
    """The Bridge's own status dispatch (`type: "message.status"`), sent besides Meta's payload."""

    type: str
    wa_id: str | None = None  # the message id (wamid), not a phone number
    event_ts: str | None = None
    tenant_id: str | None = None
    data: WooshStatusData


# WhatsApp's `type` of a message that is a reply we keep (SPEC §10); `audio` splits in two.
REPLY_TYPES = frozenset({"text", "audio", "image", "video", "document", "location", "contacts"})
REPLY_TEXT_MAX = 4096  # WhatsApp's own limit for a text message; captions count as text


def moment(value: str | int | None) -> str:
    """WhatsApp sends Unix seconds as strings; Woosh's own callback sends ISO 8601."""
    if value is not None:
        try:
            return iso(datetime.fromtimestamp(int(str(value)), UTC))
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
