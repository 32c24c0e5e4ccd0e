"""Phone numbers as ticketing systems and people write them (SPEC §4), compared by their digits.

A number is international (`+27 82 453 7125`, `27824537125`, `0027 82 453 7125`) or national
in the default region (`082 453 7125` in ZA), with spaces, dashes, dots or brackets between
the digits; it is read and validated with libphonenumber's rules (the `phonenumbers`
package), and kept as the digits of its E.164 form: `27824537125`. Only digits, spaces,
dashes, dots, brackets and a leading `+` make up a number: libphonenumber would read
`+2782ABC4567` as a vanity number, and nobody has WhatsApp on one.

`phonenumbers` is imported on first use: only the send API parses numbers, and its import
(with the metadata of the first region it reads) costs 30-50 ms that no other function pays.
"""

from __future__ import annotations

import re

DEFAULT_REGION = "ZA"
# What a written number may hold; no letters anywhere, "+" only in front.
_WRITTEN = re.compile(r"^\+?[0-9 ().\-]+$")
# Longer than any number with its separators: refused before libphonenumber reads it.
_LONGEST = 40


def phone_digits(value: str, region: str = DEFAULT_REGION) -> str:
    """The digits of a valid phone number (E.164 without its "+"); ValueError says what is wrong.

    Without a leading "+", the number is read as written in `region` (a national number, or
    one that starts with the region's country code or international prefix), and, when that
    is not a valid number, as an international number written without its "+"
    (`447911123456`): ticketing systems store numbers both ways.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > _LONGEST or not _WRITTEN.match(text) or not any(c.isdigit() for c in text):
        raise ValueError(
            "must be a phone number: digits, optionally with spaces, dashes, dots, brackets and a leading +"
        )
    number = _read(text, None if text.startswith("+") else region)
    if number is None and not text.startswith("+"):
        number = _read("+" + text, None)
    if number is None:
        raise ValueError("is not a valid phone number for its country")
    return number


def _read(text: str, region: str | None) -> str | None:
    """The E.164 digits of `text` read in `region` (None: international), when valid."""
    import phonenumbers

    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        from lift_alerts.platform.config import ConfigurationError

        raise ConfigurationError(f"DEFAULT_PHONE_REGION: {region!r} is not a region libphonenumber knows")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).removeprefix("+")
