"""ALERT_TEMPLATE_PARAMS (SPEC §3, §5): what fills the approved template's body variables, and
values Meta accepts. Pure: settings from the environment, message bodies built in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lift_alerts.domain.contents import AlertContent
from lift_alerts.domain.outbound import alert_text, template_body, template_param_text
from lift_alerts.platform.config import ConfigurationError, Settings

ALERT_ID = "0123456789abcdef0123456789abcdef"
TO = "27824537125"


def message_body(
    settings: Any, to: str, facts: Any, alert_id: str, reminder: tuple[int, int] | None
) -> dict[str, Any]:
    """The body a person outside the 24-hour window gets (the template when one is configured)."""
    content = AlertContent(settings, facts, alert_id, reminder)
    return content.body(to, content.outside) or {}


@dataclass(frozen=True)
class Facts:
    ticket_id: str = "EMG-2024-001"
    lift_id: str = "LIFT-A"
    site: str = "Sandton Office Park"
    floor: str = "3"
    note: str = "Alarm button pressed in car"


def settings(monkeypatch: pytest.MonkeyPatch, params: str | None, language: str | None = None) -> Settings:
    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alert")
    if params is None:
        monkeypatch.delenv("ALERT_TEMPLATE_PARAMS", raising=False)
    else:
        monkeypatch.setenv("ALERT_TEMPLATE_PARAMS", params)
    if language is None:
        monkeypatch.delenv("ALERT_TEMPLATE_LANGUAGE", raising=False)
    else:
        monkeypatch.setenv("ALERT_TEMPLATE_LANGUAGE", language)
    return Settings.from_env()


def body_values(body: dict) -> list[str]:
    [component] = [c for c in body["template"]["components"] if c["type"] == "body"]
    assert all(p["type"] == "text" for p in component["parameters"])
    return [p["text"] for p in component["parameters"]]


def values(
    monkeypatch: pytest.MonkeyPatch, params: str, facts: Facts | None = None, **kw: object
) -> list[str]:
    reminder = kw.get("reminder")
    assert reminder is None or isinstance(reminder, tuple)
    body = message_body(settings(monkeypatch, params), TO, facts or Facts(), ALERT_ID, reminder)
    return body_values(body)


# -- parsing the setting ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_default_is_heading_ticket_site_lift_floor(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    assert settings(monkeypatch, raw).template_params == ("heading", "ticket_id", "site", "lift_id", "floor")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("location", ("location",)),
        ("text", ("text",)),
        (" floor , lift_id ,site", ("floor", "lift_id", "site")),
        (
            "heading,ticket_id,site,lift_id,floor,note,location,text",
            ("heading", "ticket_id", "site", "lift_id", "floor", "note", "location", "text"),
        ),
    ],
)
def test_names_are_read_in_order(monkeypatch: pytest.MonkeyPatch, raw: str, parsed: tuple[str, ...]) -> None:
    assert settings(monkeypatch, raw).template_params == parsed


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("heading,lcoation", "'lcoation'"),
        ("Location", "'Location'"),
        ("site,,floor", "''"),
        ("location,", "''"),
        ("{{1}}", "'{{1}}'"),
    ],
)
def test_an_unknown_name_is_a_configuration_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, raw: str, named: str
) -> None:
    with pytest.raises(ConfigurationError, match="ALERT_TEMPLATE_PARAMS") as raised:
        settings(monkeypatch, raw)
    assert f"unknown template parameter {named}" in str(raised.value)


# -- each parameter's value -------------------------------------------------------------------


def test_each_name_fills_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    assert values(monkeypatch, "heading,ticket_id,site,lift_id,floor,note,location") == [
        "LIFT ALARM",
        "EMG-2024-001",
        "Sandton Office Park",
        "LIFT-A",
        "3",
        "Alarm button pressed in car",
        "Sandton Office Park, LIFT-A, floor 3",
    ]


def test_the_default_sends_five_values(monkeypatch: pytest.MonkeyPatch) -> None:
    body = message_body(settings(monkeypatch, None), TO, Facts(), ALERT_ID, None)
    assert body_values(body) == ["LIFT ALARM", "EMG-2024-001", "Sandton Office Park", "LIFT-A", "3"]


def test_heading_of_a_reminder(monkeypatch: pytest.MonkeyPatch) -> None:
    assert values(monkeypatch, "heading,ticket_id", reminder=(1, 2)) == ["REMINDER 1/2", "EMG-2024-001"]


def test_a_name_may_be_used_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert values(monkeypatch, "lift_id,ticket_id,lift_id") == ["LIFT-A", "EMG-2024-001", "LIFT-A"]


def test_location_alone_is_one_value(monkeypatch: pytest.MonkeyPatch) -> None:
    assert values(monkeypatch, "location") == ["Sandton Office Park, LIFT-A, floor 3"]


@pytest.mark.parametrize(
    ("facts", "phrase"),
    [
        (Facts(site=""), "LIFT-A, floor 3"),
        (Facts(floor=""), "Sandton Office Park, LIFT-A"),
        (Facts(site="", floor=""), "LIFT-A"),
        (Facts(site="Sandton\nOffice   Park"), "Sandton · Office Park, LIFT-A, floor 3"),
    ],
)
def test_location_leaves_out_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, facts: Facts, phrase: str
) -> None:
    assert values(monkeypatch, "location", facts) == [phrase]


def test_text_is_the_interactive_text_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = Facts()
    [text] = values(monkeypatch, "text", facts)
    assert text == " · ".join(alert_text(facts).splitlines())
    assert text == (
        "LIFT ALARM - ticket EMG-2024-001 · Site: Sandton Office Park · Lift: LIFT-A, floor 3 · "
        "Note: Alarm button pressed in car · What is it? Tap Test, Maintenance or Entrapment."
    )


def test_text_of_a_reminder_starts_with_its_heading(monkeypatch: pytest.MonkeyPatch) -> None:
    [text] = values(monkeypatch, "text", reminder=(2, 2))
    assert text.startswith("REMINDER 2/2 · LIFT ALARM - ticket EMG-2024-001 · ")
    assert "\n" not in text


def test_text_with_a_multiline_note(monkeypatch: pytest.MonkeyPatch) -> None:
    [text] = values(monkeypatch, "text", Facts(note="Alarm pressed\nPassenger  on phone\n\nCall back"))
    assert "Note: Alarm pressed · Passenger on phone · Call back · What is it?" in text


@pytest.mark.parametrize("name", ["site", "floor", "note"])
def test_an_empty_value_is_a_dash(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    assert values(monkeypatch, name, Facts(site="", floor="", note="")) == ["-"]


# -- values Meta accepts (132018) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("Alarm\npressed", "Alarm · pressed"),
        ("Alarm\r\npressed\rtwice", "Alarm · pressed · twice"),
        ("Alarm\tpressed", "Alarm pressed"),
        ("Alarm     pressed", "Alarm pressed"),  # five spaces
        ("Alarm    pressed", "Alarm pressed"),  # four: allowed by Meta, collapsed all the same
        ("  padded  ", "padded"),
        ("one\n\n\ntwo", "one · two"),
        ("line \n  next", "line · next"),
        ("para\u2029graph\u2028line", "para · graph · line"),
        ("no\u00a0\u00a0\u00a0\u00a0\u00a0break", "no break"),
        ("", "-"),
        (" \n\t ", "-"),
    ],
)
def test_values_are_one_line_without_runs_of_spaces(raw: str, sent: str) -> None:
    assert template_param_text(raw) == sent


def test_no_value_sent_has_a_newline_tab_or_run_of_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = Facts(note="First\tline   here\n\n  second     line\n", site="Park\r\nWest")
    for value in values(monkeypatch, "heading,ticket_id,site,lift_id,floor,note,location,text", facts):
        assert "\n" not in value
        assert "\r" not in value
        assert "\t" not in value
        assert "  " not in value
        assert value


# -- the rest of the template -------------------------------------------------------------------


@pytest.mark.parametrize(("configured", "sent"), [(None, "en"), ("", "en"), ("en_GB", "en_GB")])
def test_language_code_is_always_sent(
    monkeypatch: pytest.MonkeyPatch, configured: str | None, sent: str
) -> None:
    body = message_body(settings(monkeypatch, "location", configured), TO, Facts(), ALERT_ID, None)
    assert body["template"]["language"] == {"code": sent}
    assert body["template"]["name"] == "lift_alert"


def test_buttons_follow_the_body_whatever_the_params(monkeypatch: pytest.MonkeyPatch) -> None:
    body = template_body(TO, Facts(), ALERT_ID, name="t", language="en", params=("location",))
    kinds = [(c["type"], c.get("index")) for c in body["template"]["components"]]
    assert kinds == [("body", None), ("button", "0"), ("button", "1"), ("button", "2")]
    payloads = [c["parameters"][0]["payload"] for c in body["template"]["components"][1:]]
    assert payloads == [f"la1:{ALERT_ID}:{choice}" for choice in ("test", "maintenance", "entrapment")]
