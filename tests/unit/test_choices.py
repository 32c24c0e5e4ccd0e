"""The three answers (SPEC §4): their button ids, the labels a static-payload template sends,
and severity, which only rises. Pure."""

from __future__ import annotations

import pytest

from lift_alerts.domain.choices import (
    BUTTONS,
    Choice,
    button_id,
    most_severe,
    parse_button_id,
    parse_button_label,
    parse_confirm_id,
)

ALERT_ID = "0123456789abcdef0123456789abcdef"


def test_the_buttons_are_test_maintenance_entrapment_in_that_order() -> None:
    assert [(choice.value, label) for choice, label in BUTTONS] == [
        ("test", "Test"),
        ("maintenance", "Maintenance"),
        ("entrapment", "Entrapment"),
    ]


@pytest.mark.parametrize("choice", list(Choice))
def test_a_button_id_names_the_alert_and_the_choice_and_reads_back(choice: Choice) -> None:
    value = button_id(ALERT_ID, choice)
    assert value == f"la1:{ALERT_ID}:{choice.value}"
    ref = parse_button_id(f"  {value} ")
    assert ref is not None
    assert (ref.alert_id, ref.choice) == (ALERT_ID, choice)
    assert parse_confirm_id(value) is None  # a choice is never a confirmation


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        f"la2:{ALERT_ID}:test",  # another version of the id
        f"la1:{ALERT_ID.upper()}:test",  # alert ids are lower-case hex
        f"la1:{ALERT_ID[:-1]}:test",  # 31 hex digits
        f"la1:{ALERT_ID}:Test",  # the choice part is lower case
        f"la1:{ALERT_ID}:confirm",  # the YES button
        f"la1:{ALERT_ID}:test:extra",
        "Entrapment",
    ],
)
def test_anything_else_is_not_a_button_id(value: str | None) -> None:
    assert parse_button_id(value) is None


@pytest.mark.parametrize(
    ("value", "choice"),
    [("Test", Choice.TEST), (" maintenance ", Choice.MAINTENANCE), ("ENTRAPMENT", Choice.ENTRAPMENT)],
)
def test_a_label_names_a_choice_in_any_case(value: str, choice: Choice) -> None:
    assert parse_button_label(value) is choice


@pytest.mark.parametrize("value", [None, "", "Entrap", "Test please", button_id(ALERT_ID, Choice.TEST)])
def test_other_text_is_not_a_label(value: str | None) -> None:
    assert parse_button_label(value) is None


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        ([], None),
        (["test"], "test"),
        (["entrapment", "test"], "entrapment"),  # a later Test never lowers it
        (["test", "maintenance"], "maintenance"),
        (["maintenance", "entrapment", "maintenance"], "entrapment"),
        (["nonsense", "test"], "test"),  # an unknown stored value is skipped
        (["nonsense"], None),
    ],
)
def test_the_most_severe_answer_wins(choices: list[str], expected: str | None) -> None:
    assert most_severe(choices) == expected
