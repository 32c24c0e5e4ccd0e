"""What WhatsApp (through Woosh) posts to the webhook, as pydantic models (SPEC §6).

Models mirror Meta's payload and the Bridge's status wrapper, and are lenient: unknown fields
are ignored and optional fields optional. `inbound_parsing` validates each message and status
on its own with them, so one malformed item never hides the rest of a batch.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)


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
