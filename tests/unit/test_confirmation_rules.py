"""Entrapment confirmation rules (SPEC §10), pure: the question, the YES button id, the
notices, round timing and the bodies per channel. No sockets, no AWS."""

from __future__ import annotations

import dataclasses

import pytest

from lift_alerts.domain import wording as texts
from lift_alerts.domain.alert_facts import people_messaged
from lift_alerts.domain.alert_views import confirmation_view
from lift_alerts.domain.choices import (
    Choice,
    button_id,
    confirm_button_id,
    is_confirm_label,
    parse_button_id,
    parse_button_label,
    parse_confirm_id,
)
from lift_alerts.domain.confirmation_rules import became_entrapment, step_due_at, step_kind
from lift_alerts.domain.contents import ConfirmContent, notice
from tests.support.settings import alert_facts, make_settings

ALERT_ID = "0123456789abcdef0123456789abcdef"
FACTS = alert_facts(ticket_id="EMG-7")
SETTINGS = make_settings()


def test_the_question_names_place_and_ticket() -> None:
    text = texts.confirmation_question(FACTS)
    assert (
        "Has the service provider been notified of the entrapment at Sandton Office Park, LIFT-A (floor 3)?"
        in text
    )
    assert "EMG-7" in text
    assert not text.startswith("REMINDER")


def test_a_reminder_is_the_same_question_headed_reminder_n_of_n() -> None:
    text = texts.confirmation_question(FACTS, reminder=(2, 3))
    assert text.splitlines()[0] == "REMINDER 2/3"
    assert text.splitlines()[1:] == texts.confirmation_question(FACTS).splitlines()


def test_the_question_leaves_out_what_the_alert_lacks() -> None:
    bare = dataclasses.replace(FACTS, site="", floor="")
    assert "notified of the entrapment at LIFT-A?" in texts.confirmation_question(bare)


def test_notices() -> None:
    missed = texts.confirmation_missed_notice(FACTS, rounds=3)
    assert "follow up" in missed
    assert "EMG-7" in missed
    assert "after 3 reminders" in missed
    assert "after 1 reminder." in texts.confirmation_missed_notice(FACTS, rounds=1)
    confirmed = texts.provider_confirmed_notice(FACTS, confirmed_by="John Smith")
    assert "EMG-7" in confirmed
    assert "John Smith confirmed" in confirmed
    assert "John Smith" in texts.later_yes_ack(FACTS, confirmed_by="John Smith")
    assert texts.person_name({"wa_id": "27824537125", "name": " "}) == "+27824537125"
    assert texts.person_name(None) == "Someone"


def test_meta_safe_joins_lines_and_collapses_spaces() -> None:
    text = texts.meta_safe("REMINDER 1/3\nENTRAPMENT\t -  ticket     X\n\nHas it?")
    assert text == "REMINDER 1/3 · ENTRAPMENT - ticket X · Has it?"
    assert "\n" not in text
    assert "\t" not in text
    assert "     " not in text


def test_the_yes_button_id_names_the_alert_and_the_confirmation() -> None:
    value = confirm_button_id(ALERT_ID)
    assert value == f"la1:{ALERT_ID}:confirm"
    assert len(value) <= 256
    assert parse_confirm_id(value) == ALERT_ID
    assert parse_confirm_id(f"  {value} ") == ALERT_ID


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "YES",
        f"la1:{ALERT_ID}:entrapment",
        f"la1:{ALERT_ID}:confirmx",
        f"la1:{ALERT_ID[:-1]}:confirm",
    ],
)
def test_other_ids_are_not_a_confirmation(value: str | None) -> None:
    assert parse_confirm_id(value) is None


def test_a_yes_is_never_a_classification_choice() -> None:
    value = confirm_button_id(ALERT_ID)
    assert parse_button_id(value) is None
    assert parse_button_label(value) is None
    assert parse_button_label("YES") is None
    for choice in Choice:
        assert parse_confirm_id(button_id(ALERT_ID, choice)) is None


def test_the_static_yes_label() -> None:
    assert is_confirm_label(" yes ")
    assert is_confirm_label("YES")
    assert not is_confirm_label("Entrapment")
    assert not is_confirm_label(None)


def test_round_timing_requests_then_n_reminders_then_missed() -> None:
    requested, after = 1_000, 300
    kinds = [step_kind(step, 3) for step in range(5)]
    assert kinds == ["request", "reminder", "reminder", "reminder", "missed"]
    assert [step_due_at(requested, step, after) for step in range(5)] == [1000, 1300, 1600, 1900, 2200]
    assert [step_kind(step, 0) for step in range(2)] == ["request", "missed"]


def test_first_entrapment_only() -> None:
    def taps(*choices: str) -> dict[str, object]:
        return {"responses": [{"choice": c} for c in choices]}

    assert became_entrapment(taps(), taps("entrapment"))
    assert became_entrapment(taps("maintenance"), taps("maintenance", "entrapment"))
    assert not became_entrapment(taps("entrapment"), taps("entrapment", "entrapment"))
    assert not became_entrapment(taps("entrapment"), taps("entrapment", "test"))
    assert not became_entrapment(taps(), taps("maintenance"))


def test_people_messaged_are_recipients_and_reminded_escalation_recipients() -> None:
    alert = {
        "recipient_order": ["1", "2"],
        "escalation": {"recipients": ["3", "4"]},
        "recipients": {"1": {}, "2": {}, "3": {}},  # 4 was never reminded
    }
    assert people_messaged(alert) == ["1", "2", "3"]


def test_bodies_per_channel() -> None:
    inside = ConfirmContent(SETTINGS, FACTS, ALERT_ID, (1, 3))
    body = inside.body("27824537125", "interactive")
    assert body is not None
    assert body["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": f"la1:{ALERT_ID}:confirm", "title": "YES"}}
    ]
    assert body["interactive"]["body"]["text"].startswith("REMINDER 1/3\n")
    assert inside.kind == "confirm_reminder"
    assert inside.outside is None  # no template: skipped outside the window
    assert inside.body("27824537125", "template") is None

    templated = ConfirmContent(
        dataclasses.replace(SETTINGS, confirm_template_name="lift_confirm"), FACTS, ALERT_ID
    )
    assert templated.kind == "confirm_request"
    assert templated.outside == "template"
    template = templated.body("27824537125", "template")
    assert template is not None
    assert template["template"]["name"] == "lift_confirm"
    assert template["template"]["language"] == {"code": "en"}
    body_part, button_part = template["template"]["components"]
    [variable] = body_part["parameters"]
    assert variable["text"] == texts.meta_safe(texts.confirmation_question(FACTS))
    assert button_part == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": f"la1:{ALERT_ID}:confirm"}],
    }

    missed = notice(make_settings(notice_template_name=None), "confirm_missed", "a\nb")
    assert missed.body("1", "text") == {"to": "1", "text": "a\nb"}  # the Bridge's {to, text}
    assert missed.outside is None
    with_template = notice(make_settings(notice_template_name="lift_notice"), "confirm_missed", "a\nb")
    assert with_template.outside == "template"
    body = with_template.body("1", "template")
    assert body is not None
    assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "a · b"}]


def test_the_view_is_null_before_an_entrapment_and_stops_showing_a_due_time_when_done() -> None:
    assert confirmation_view({}) is None
    waiting = {
        "confirmation": {
            "requested_at": "2026-01-01T10:00:00Z",
            "rounds_sent": 1,
            "next_due_at": "2026-01-01T10:10:00Z",
        }
    }
    assert confirmation_view(waiting) == {
        "requested_at": "2026-01-01T10:00:00Z",
        "rounds_sent": 1,
        "next_due_at": "2026-01-01T10:10:00Z",
        "confirmed_at": None,
        "confirmed_by": None,
        "missed_at": None,
    }
    closed = {**waiting, "closed_at": "2026-01-01T10:05:00Z"}
    view = confirmation_view(closed)
    assert view is not None
    assert view["next_due_at"] is None
