"""Text rules: what WhatsApp accepts, and how foreign text is cleaned before it is stored."""

from __future__ import annotations

import re

BODY_MAX = 1024  # interactive body limit
TITLE_MAX = 20
BUTTON_ID_MAX = 256

# Unicode's control characters (category Cc) are exactly C0, DEL and C1; a character class
# drops them in one C-level pass (a per-character category lookup was a tap's costliest
# Python loop). tests/unit/test_text_rules.py checks the classes against unicodedata.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n


def is_valid_unicode(value: str) -> bool:
    """False for lone surrogates ("\\ud800" in JSON), which cannot be encoded or shown."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control_characters(value: str, *, allow_newlines: bool = False) -> bool:
    return _controls(allow_newlines=allow_newlines).search(value) is not None


def clean_foreign_text(value: object, limit: int, *, allow_newlines: bool = False) -> str | None:
    """Text from WhatsApp: invalid code points replaced, control characters dropped, bounded.

    `allow_newlines` keeps line breaks and tabs (a person's message is often several lines).
    """
    if not isinstance(value, str):
        return None
    if not value.isascii():  # only non-ASCII text can hold a lone surrogate
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    if value.isprintable():  # no control character (Cc is never printable): the usual case
        return value[:limit]
    return _controls(allow_newlines=allow_newlines).sub("", value)[:limit]


def _controls(*, allow_newlines: bool) -> re.Pattern[str]:
    return _CONTROL_BUT_LINE_BREAKS if allow_newlines else _CONTROL
