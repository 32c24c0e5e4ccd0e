"""The Bridge's send endpoint: what it accepts, what it records, what it answers (SPEC §5).

`POST /api/messages/send` with `X-Api-Key`: interactive button messages, templates with
quick-reply buttons and plain text (`{to, text}`, the text a string, as Woosh documents it:
Meta's `{type: "text", text: {body}}` is not the Bridge's form and is refused), validated
against WhatsApp's limits.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from local.woosh.errors import Rejected
from local.woosh.templates import MAX_PAYLOAD, TemplateShape, validate_template

SEND_PATH = "/api/messages/send"

_PHONE = re.compile(r"\+?(\d{8,15})")
MAX_INTERACTIVE_BODY = 1024
MAX_TEXT_BODY = 4096
MAX_BUTTONS = 3
MAX_TITLE = 20
MAX_HEADER_FOOTER = 60


@dataclass(frozen=True)
class SentMessage:
    """One request to the send endpoint, accepted or not, as received.

    `error` is Woosh's error code, or Meta's numeric code as digits when Meta refused the
    message; `fails_with` is the error code of the `failed` status the stand-in dispatches
    later for an accepted message (131047 outside the 24-hour window), else None.
    """

    to: str
    body: dict[str, Any]
    headers: dict[str, str]
    message_id: str | None
    status_code: int
    buttons: list[tuple[str, str]]
    error: str | None = None
    received_at: float = field(default_factory=time.time)
    fails_with: int | None = None

    @property
    def accepted(self) -> bool:
        return self.message_id is not None

    @property
    def kind(self) -> str | None:
        """`interactive`, `template` or `text` (also for Woosh's `{to, text}` form without a type)."""
        value = self.body.get("type")
        if value is None and "text" in self.body:
            return "text"
        return value if isinstance(value, str) else None

    @property
    def text(self) -> str | None:
        """The body text of an interactive or text message (None for templates)."""
        value: Any = None
        if self.kind == "interactive":
            value = dig(self.body, "interactive", "body", "text")
        elif self.kind == "text":
            value = text_of(self.body)
        return value if isinstance(value, str) else None

    @property
    def shown(self) -> str | None:
        """What the phone shows: the text of an interactive or text message, or a template's
        body variables as filled in (the approved template's fixed words are Meta's, not ours)."""
        if self.kind != "template":
            return self.text
        components = dig(self.body, "template", "components")
        values = [
            str(parameter.get("text", ""))
            for component in (components if isinstance(components, list) else [])
            if isinstance(component, dict) and component.get("type") == "body"
            for parameter in component.get("parameters") or []
            if isinstance(parameter, dict)
        ]
        return " | ".join(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "shown": self.shown,
            "to": self.to,
            "body": self.body,
            "headers": self.headers,
            "message_id": self.message_id,
            "status_code": self.status_code,
            "buttons": [list(button) for button in self.buttons],
            "error": self.error,
            "received_at": self.received_at,
            "fails_with": self.fails_with,
        }


def dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def digits(value: str) -> str:
    return value[1:] if value.startswith("+") else value


def text_of(body: dict[str, Any]) -> Any:
    """The text of a text send (`{to, text}`)."""
    return body.get("text")


def validate_to(body: dict[str, Any]) -> str:
    to = body.get("to")
    if not isinstance(to, str) or not _PHONE.fullmatch(to):
        raise Rejected("invalid_phone", "'to' must be a phone number with 8 to 15 digits")
    return digits(to)


def validate_message(
    body: dict[str, Any], templates: Mapping[str, TemplateShape] | None, default_texts: Sequence[str]
) -> list[tuple[str, str]]:
    """The buttons `(payload or id, label)` of a valid send, else Rejected."""
    kind = body.get("type")
    if kind == "interactive":
        return _validate_interactive(body)
    if kind == "template":
        return validate_template(body, templates, default_texts)
    if kind is None and "text" in body:
        return _validate_text(body)
    raise Rejected("unsupported_payload", f"unsupported message type {kind!r}")


def _validate_interactive(body: dict[str, Any]) -> list[tuple[str, str]]:
    interactive = body.get("interactive")
    if not isinstance(interactive, dict) or interactive.get("type") != "button":
        raise Rejected("unsupported_payload", "only interactive messages of type 'button' are supported")
    _validate_interactive_texts(interactive)
    buttons = dig(interactive, "action", "buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise Rejected("unsupported_payload", f"an interactive message needs 1 to {MAX_BUTTONS} buttons")
    result = [_reply_button(button) for button in buttons]
    if len({button_id for button_id, _ in result}) != len(result):
        raise Rejected("unsupported_payload", "button ids must be unique within a message")
    return result


def _validate_interactive_texts(interactive: dict[str, Any]) -> None:
    """The body text is required; it, the header and the footer must fit WhatsApp's lengths."""
    text = dig(interactive, "body", "text")
    if not isinstance(text, str) or not text:
        raise Rejected("unsupported_payload", "interactive.body.text is required")
    if len(text) > MAX_INTERACTIVE_BODY:
        raise Rejected("message_too_long", f"interactive body is over {MAX_INTERACTIVE_BODY} characters")
    for part in ("header", "footer"):
        part_text = dig(interactive, part, "text")
        if part_text is not None and (not isinstance(part_text, str) or len(part_text) > MAX_HEADER_FOOTER):
            raise Rejected("message_too_long", f"interactive {part} is over {MAX_HEADER_FOOTER} characters")


def _reply_button(button: Any) -> tuple[str, str]:
    """A reply button's `(id, title)`, each within WhatsApp's lengths, else Rejected."""
    reply = dig(button, "reply")
    button_id, title = dig(reply, "id"), dig(reply, "title")
    if not isinstance(button, dict) or button.get("type") != "reply":
        raise Rejected("unsupported_payload", "buttons must be of type 'reply'")
    if not isinstance(button_id, str) or not 1 <= len(button_id) <= MAX_PAYLOAD:
        raise Rejected("unsupported_payload", f"button id must have 1 to {MAX_PAYLOAD} characters")
    if not isinstance(title, str) or not 1 <= len(title) <= MAX_TITLE:
        raise Rejected("unsupported_payload", f"button title must have 1 to {MAX_TITLE} characters")
    return button_id, title


def _validate_text(body: dict[str, Any]) -> list[tuple[str, str]]:
    text = text_of(body)
    if not isinstance(text, str) or not text:
        raise Rejected("unsupported_payload", "text must be a non-empty string ({to, text})")
    if len(text) > MAX_TEXT_BODY:
        raise Rejected("message_too_long", f"text is over {MAX_TEXT_BODY} characters")
    return []


def accepted_answer(message_id: str, to: str) -> Response:
    return json_response({"ok": True, "wa_id": message_id, "to": to, "accepted": True}, 200)


def json_response(data: Any, status: int) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")
