"""Reading what the stand-in Woosh recorded: the lines a phone shows, buttons, inbound messages.

Everything here works on the stand-in's JSON (`GET /_sent`, `GET /_dispatched`) and has no
side effect.
"""

from __future__ import annotations

from typing import Any


def digits(phone: str) -> str:
    return phone.lstrip("+")


def text_lines(message: dict[str, Any]) -> list[str]:
    """What the phone shows, line by line (a template's one variable joins lines with " · ")."""
    text = str(message.get("shown") or "")
    return [line.strip() for line in text.replace(" · ", "\n").splitlines() if line.strip()]


def first_line(message: dict[str, Any]) -> str:
    return next(iter(text_lines(message)), "")


def headline(message: dict[str, Any]) -> str:
    """The first line, and for a reminder the original's first line after it."""
    lines = text_lines(message)
    return " / ".join(lines[:2] if lines and lines[0].startswith("REMINDER") else lines[:1])


def button_titles(message: dict[str, Any]) -> list[str]:
    return [title for _id, title in message["buttons"]]


def inbound_messages(payload: Any) -> list[dict[str, Any]]:
    """The messages a person sent, inside a webhook body the stand-in forwarded."""
    if not isinstance(payload, dict):
        return []
    return [
        message
        for entry in payload.get("entry") or []
        for change in entry.get("changes") or []
        for message in (change.get("value") or {}).get("messages") or []
        if isinstance(message, dict)
    ]


def inbound_summary(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "button":
        return f"tapped {message.get('button', {}).get('text')}"
    if kind == "interactive":
        return f"tapped {message.get('interactive', {}).get('button_reply', {}).get('title')}"
    if kind == "text":
        return f'wrote "{message.get("text", {}).get("body")}"'
    return f"sent a {kind}"
