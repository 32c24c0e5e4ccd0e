"""What people read (SPEC §10): acknowledgement, outcome notice and critical texts, and which
channel a notice takes. Pure: no sockets, no AWS."""

from __future__ import annotations

import pytest

from lift_alerts.domain.alert_facts import StoredAlert, messaged
from lift_alerts.domain.contents import NoticeContent
from lift_alerts.domain.outbound import template_param_text
from lift_alerts.domain.wording import Answer, ack_text, critical_text, display_time, outcome_notice_text
from lift_alerts.platform.config import ConfigurationError, Settings
from tests.support.settings import alert_facts, make_settings

SAST = "Africa/Johannesburg"
ALERT = alert_facts()
JOHN = Answer("maintenance", "John Smith", "27824537125", "2025-10-01T08:31:00Z")
NAMELESS = Answer("entrapment", None, "27831234567", "2025-10-01T08:35:10Z")


def settings(**changes: object) -> Settings:
    return make_settings(**{"template_params": ("text",), **changes})


def test_times_are_shown_in_sast_with_the_abbreviation() -> None:
    assert display_time("2025-10-01T08:31:00Z", SAST) == "10:31 SAST"
    assert display_time("2025-10-01T22:05:59Z", SAST) == "00:05 SAST"
    assert display_time("2025-10-01T08:31:00Z", "UTC") == "08:31 UTC"
    assert display_time("not a time", SAST) is None


def test_first_tap_acknowledgement_names_ticket_lift_site_and_label() -> None:
    text = ack_text(
        ALERT, JOHN, first=None, outcome="maintenance", closed=False, unanswered_at=None, timezone=SAST
    )
    assert text == "Recorded: Maintenance for ticket EMG-1 (Sandton Office Park, LIFT-A, floor 3)."


def test_late_tap_acknowledgement_says_who_answered_first_and_the_outcome() -> None:
    late = Answer("test", "Thandi", "27820000001", "2025-10-01T08:40:00Z")
    text = ack_text(
        ALERT, late, first=JOHN, outcome="maintenance", closed=False, unanswered_at=None, timezone=SAST
    )
    assert text.splitlines() == [
        "Recorded: Test for ticket EMG-1 (Sandton Office Park, LIFT-A, floor 3).",
        "John Smith answered first: Maintenance at 10:31 SAST.",
        "Outcome now: Maintenance.",
    ]


def test_a_first_answerer_without_a_name_is_shown_by_number() -> None:
    text = ack_text(
        ALERT, JOHN, first=NAMELESS, outcome="entrapment", closed=False, unanswered_at=None, timezone=SAST
    )
    assert "+27831234567 answered first: Entrapment at 10:35 SAST." in text
    assert "Outcome now: Entrapment." in text


def test_a_tap_after_closed_or_unanswered_says_so() -> None:
    closed = ack_text(
        ALERT, JOHN, first=None, outcome="maintenance", closed=True, unanswered_at=None, timezone=SAST
    )
    assert closed.endswith("This alert is already closed.")
    late = ack_text(
        ALERT,
        JOHN,
        first=None,
        outcome="maintenance",
        closed=False,
        unanswered_at="2025-10-01T08:30:00Z",
        timezone=SAST,
    )
    assert late.endswith("This alert had been marked unanswered at 10:30 SAST.")


def test_outcome_notice_first_answer_and_rising() -> None:
    first = outcome_notice_text(ALERT, JOHN, rose_from=None, timezone=SAST)
    assert first == (
        "Ticket EMG-1 at Sandton Office Park, LIFT-A, floor 3: "
        "answered by John Smith: Maintenance at 10:31 SAST."
    )
    rose = outcome_notice_text(ALERT, NAMELESS, rose_from="maintenance", timezone=SAST)
    assert rose == (
        "Ticket EMG-1 at Sandton Office Park, LIFT-A, floor 3: the outcome rose from Maintenance to "
        "Entrapment, answered by +27831234567: Entrapment at 10:35 SAST."
    )


def test_critical_message_wording() -> None:
    assert critical_text(ALERT, 2) == (
        "CRITICAL: no response to EMG-1 at Sandton Office Park, LIFT-A, floor 3 after 2 reminders. "
        "Immediate action required."
    )
    no_site = StoredAlert(ticket_id="EMG-2", lift_id="L9", site="", floor="", note="")
    assert (
        critical_text(no_site, 1)
        == "CRITICAL: no response to EMG-2 at L9 after 1 reminder. Immediate action required."
    )


def test_template_parameter_is_meta_safe() -> None:
    value = template_param_text("Recorded: Test\n\tJohn  Smith     answered first")
    assert value == "Recorded: Test · John Smith answered first"
    assert not any(bad in value for bad in ("\n", "\t", "     "))
    assert template_param_text(" \n ") == "-"


def test_notice_channels_text_inside_template_outside_or_skipped() -> None:
    without = NoticeContent(settings(), "hello")
    assert (without.inside, without.outside) == ("text", None)
    assert without.body("27824537125", "text") == {"to": "27824537125", "text": "hello"}
    assert without.body("27824537125", "template") is None
    with_template = NoticeContent(
        settings(notice_template_name="lift_notice", template_language="en_ZA"), "a\nb"
    )
    assert with_template.outside == "template"
    assert with_template.body("27824537125", "template") == {
        "to": "27824537125",
        "type": "template",
        "template": {
            "name": "lift_notice",
            "language": {"code": "en_ZA"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "a · b"}]}],
        },
    }


def test_acknowledgements_are_text_only_and_work_without_an_alert_template() -> None:
    ack = NoticeContent(settings(template_name="lift_alarm"), "Recorded", kind="ack", text_only=True)
    assert (ack.inside, ack.outside) == ("text", "text")


def test_everyone_messaged_includes_escalation_recipients_only_once_reminded() -> None:
    alert = {
        "recipient_order": ["271", "272"],
        "escalation": {"recipients": ["273"]},
        "messages": {"m1": {"to": "271"}, "m2": {"to": "272"}},
    }
    assert messaged(alert) == ["271", "272"]
    alert["messages"]["m3"] = {"to": "273"}
    assert messaged(alert) == ["271", "272", "273"]


def test_an_unknown_display_timezone_fails_the_cold_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_TABLE", "t")
    monkeypatch.setenv("EVENT_BUS_NAME", "b")
    monkeypatch.setenv("APP_SECRET_ID", "s")
    monkeypatch.setenv("DISPLAY_TIMEZONE", "Africa/Joburg")
    with pytest.raises(ConfigurationError, match="Africa/Joburg"):
        Settings.from_env()
    monkeypatch.delenv("DISPLAY_TIMEZONE")
    assert Settings.from_env().display_timezone == "Africa/Johannesburg"
