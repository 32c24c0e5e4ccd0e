"""The small pieces every message text is built from (SPEC §10): labels, people, times, places,
reply nouns. Pure (the whole messages are in test_notice_texts and test_confirmation_rules)."""

from __future__ import annotations

from datetime import datetime

import pytest

from lift_alerts.domain.alert_facts import StoredAlert
from lift_alerts.domain.wording import display_time, entrapment_place, label, person, reply_ack_text
from tests.support.settings import alert_facts


@pytest.mark.parametrize(
    ("choice", "shown"),
    [("test", "Test"), ("maintenance", "Maintenance"), ("entrapment", "Entrapment"), (None, "none yet")],
)
def test_a_choice_is_shown_by_its_button_label(choice: str | None, shown: str) -> None:
    assert label(choice) == shown


def test_an_unknown_stored_choice_is_shown_as_stored() -> None:
    assert label("later") == "later"


@pytest.mark.parametrize(
    ("name", "wa_id", "shown"),
    [
        ("  Thabo  ", "27824537125", "Thabo"),
        ("   ", "27824537125", "+27824537125"),  # a blank profile name is no name
        (None, "+27824537125", "+27824537125"),  # never two plus signs
        (None, None, "someone"),
    ],
)
def test_a_person_is_their_name_else_their_number(name: str | None, wa_id: str | None, shown: str) -> None:
    assert person(name, wa_id) == shown


def test_a_time_without_a_zone_is_utc_and_none_is_nothing() -> None:
    assert display_time(datetime(2025, 10, 1, 8, 31), "Africa/Johannesburg") == "10:31 SAST"
    assert display_time(None, "Africa/Johannesburg") is None


@pytest.mark.parametrize(
    ("alert", "place"),
    [
        (alert_facts(), "Sandton Office Park, LIFT-A (floor 3)"),
        (alert_facts(floor=""), "Sandton Office Park, LIFT-A"),
        (alert_facts(site=""), "LIFT-A (floor 3)"),
    ],
)
def test_the_entrapment_place_leaves_out_what_the_alert_lacks(alert: StoredAlert, place: str) -> None:
    assert entrapment_place(alert) == place


@pytest.mark.parametrize(
    ("reply_type", "noun"),
    [
        ("text", "message"),
        ("voice", "voice note"),
        ("audio", "audio"),
        ("image", "photo"),
        ("video", "video"),
        ("document", "document"),
        ("location", "location"),
        ("contacts", "contact card"),
    ],
)
def test_the_reply_acknowledgement_names_what_was_sent(reply_type: str, noun: str) -> None:
    text = reply_ack_text(reply_type=reply_type, ticket_id="EMG-1", lift_id="LIFT-A", site="Rosebank")
    assert text == f"Thank you. Your {noun} was passed on to the rescue desk for EMG-1 (LIFT-A at Rosebank)."
