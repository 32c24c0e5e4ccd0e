"""Pure tests of the text rules (lift_alerts.text): what counts as a control character, and
what cleaning foreign text keeps."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from lift_alerts.domain.text_rules import clean_foreign_text, has_control_characters

EVERY_CONTROL = "".join(chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)) == "Cc")


def test_the_control_characters_are_exactly_unicodes_category_cc() -> None:
    # Every code point (surrogates and all): dropped exactly when Unicode calls it Cc.
    text = "".join(chr(i) for i in range(sys.maxunicode + 1))
    cleaned = clean_foreign_text(text, sys.maxunicode + 1)
    assert cleaned is not None
    assert not any(unicodedata.category(ch) == "Cc" for ch in cleaned)
    expected_kept = sys.maxunicode + 1 - len(EVERY_CONTROL)
    assert len(cleaned) == expected_kept  # nothing else dropped (a lone surrogate becomes "?")
    assert all(has_control_characters(ch) for ch in EVERY_CONTROL)


@pytest.mark.parametrize(
    ("raw", "allow_newlines", "expected"),
    [
        ("Lift 3\x00\x07 stuck\x7f\x85", False, "Lift 3 stuck"),
        ("line one\r\n\tline two", False, "line oneline two"),
        ("line one\r\n\tline two", True, "line one\n\tline two"),
        ("Thabo \ud83d Nkosi", False, "Thabo ? Nkosi"),  # a lone surrogate from JSON's \ud83d
        ("Zoë 🛗 ok", False, "Zoë 🛗 ok"),
        ("x" * 300, False, "x" * 256),
    ],
)
def test_foreign_text_loses_controls_and_invalid_code_points_and_is_bounded(
    raw: str, allow_newlines: bool, expected: str
) -> None:
    assert clean_foreign_text(raw, 256, allow_newlines=allow_newlines) == expected


def test_only_text_is_cleaned() -> None:
    assert clean_foreign_text(12, 256) is None
    assert clean_foreign_text(None, 256) is None


@pytest.mark.parametrize(
    ("value", "allow_newlines", "expected"),
    [("plain", False, False), ("a\nb", False, True), ("a\nb\tc", True, False), ("a\rb", True, True)],
)
def test_control_characters_are_found_with_or_without_line_breaks(
    value: str, allow_newlines: bool, expected: bool
) -> None:
    assert has_control_characters(value, allow_newlines=allow_newlines) is expected


def test_each_code_point_alone_is_cleaned_as_the_control_classes_clean_it() -> None:
    # Printable text skips the regex: it must keep exactly what the regex would keep.
    import re

    controls = re.compile(r"[\x00-\x1f\x7f-\x9f]")
    for code in range(sys.maxunicode + 1):
        text = f"a{chr(code)}b"
        expected = controls.sub("", text.encode("utf-8", "replace").decode("utf-8"))
        assert clean_foreign_text(text, 10) == expected, hex(code)
