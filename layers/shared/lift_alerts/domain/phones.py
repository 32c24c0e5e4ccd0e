"""Phone numbers are compared by their digits: '+27…' and '27…' are one recipient."""

from __future__ import annotations

import re

_PHONE = re.compile(r"^\+?(\d{8,15})$")


def phone_digits(value: str) -> str:
    """Digits of a valid phone number; ValueError names what is wrong."""
    match = _PHONE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError("must be a phone number: digits with an optional leading +, 8 to 15 digits")
    return match.group(1)
