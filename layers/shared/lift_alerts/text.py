"""Text rules: what WhatsApp accepts, and how foreign text is cleaned before it is stored."""

from __future__ import annotations

import unicodedata

BODY_MAX = 1024  # interactive body limit
TITLE_MAX = 20
BUTTON_ID_MAX = 256


def is_valid_unicode(value: str) -> bool:
    """False for lone surrogates ("\\ud800" in JSON), which cannot be encoded or shown."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control_characters(value: str, *, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\t"} if allow_newlines else set()
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value)


def clean_foreign_text(value: object, limit: int, *, allow_newlines: bool = False) -> str | None:
    """Text from WhatsApp: invalid code points replaced, control characters dropped, bounded.

    `allow_newlines` keeps line breaks and tabs (a person's message is often several lines).
    """
    if not isinstance(value, str):
        return None
    kept = {"\n", "\t"} if allow_newlines else set()
    cleaned = value.encode("utf-8", errors="replace").decode("utf-8")
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch) != "Cc" or ch in kept)
    return cleaned[:limit]
