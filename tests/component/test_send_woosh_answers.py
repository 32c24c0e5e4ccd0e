"""What the ticketing system sees when Woosh refuses, fails or rate-limits a send, and what a
template-mode send carries (SPEC §3, §4, §5): POST /alerts against the stand-in Woosh.

The stand-in's `fail_next(raw_body=…, status=…)` answers any status with any body, which is
how the Bridge's real answers (samples/woosh_send_error_meta.json) are played here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lift_alerts.platform.config import ConfigurationError, reset_caches
from tests.support.harness import container_module
from tests.support.service import Service

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
TECH = "27824537125"
DESK = "27831234567"
ALERT = {
    "ticket_id": "EMG-2024-001",
    "lift_id": "LIFT-A",
    "site": "Sandton Office Park",
    "floor": "3",
    "recipients": [TECH],
    "note": "Alarm button pressed in car",
}
META_132000_TITLE = "(#132000) Number of parameters does not match the expected number of params"


def meta_refusal(code: int, text: str) -> str:
    return json.dumps(
        {
            "ok": False,
            "error": f"(#{code}) {text}",
            "code": code,
            "detail": {"error": {"message": f"(#{code}) {text}", "type": "OAuthException", "code": code}},
        }
    )


def sends_to(service: Service, to: str) -> list[int]:
    return [s.status_code for s in service.woosh.sent if s.to == to]


# -- refusals and failures ----------------------------------------------------------------------


def test_meta_refusal_fails_the_only_recipient_with_metas_code_502(service: Service) -> None:
    sample = (SAMPLES / "woosh_send_error_meta.json").read_text()
    service.woosh.fail_next(TECH, error=None, status=502, raw_body=sample)
    result = service.post_alert(ALERT)
    assert result.status == 502, result.text
    [line] = result.json()["messages"]
    assert line == {
        "to": TECH,
        "message_id": None,
        "status": "failed",
        "error": {"code": "132000", "title": META_132000_TITLE},
    }
    assert sends_to(service, TECH) == [502]  # final: not sent again
    [failed] = service.details("Alert Delivery Failed")
    assert failed["recipient"] == TECH
    assert failed["error"] == {"code": "132000", "title": META_132000_TITLE}
    view = service.get_alert(result.json()["alert_id"]).json()
    assert view["recipients"][0]["delivery_status"] == "failed"
    assert view["recipients"][0]["error"] == {"code": "132000", "title": META_132000_TITLE}


def test_meta_refusal_for_one_of_two_recipients_is_201_with_its_error(service: Service) -> None:
    sample = (SAMPLES / "woosh_send_error_meta.json").read_text()
    service.woosh.fail_next(DESK, error=None, status=502, raw_body=sample)
    result = service.post_alert({**ALERT, "recipients": [TECH, DESK]})
    assert result.status == 201, result.text
    lines = {m["to"]: m for m in result.json()["messages"]}
    assert lines[TECH]["status"] == "accepted"
    assert lines[DESK]["error"] == {"code": "132000", "title": META_132000_TITLE}
    assert [d["error"]["code"] for d in service.details("Alert Delivery Failed")] == ["132000"]


def test_send_failed_500_is_retried_then_accepted(service: Service) -> None:
    body = json.dumps({"ok": False, "error": "send_failed", "detail": "upstream connection reset"})
    service.woosh.fail_next(TECH, error=None, status=500, raw_body=body)
    result = service.post_alert(ALERT)
    assert result.status == 201, result.text
    [line] = result.json()["messages"]
    assert line["status"] == "accepted"
    assert line["message_id"] == service.woosh.accepted(TECH)[0].message_id
    assert sends_to(service, TECH) == [500, 200]
    assert service.details("Alert Delivery Failed") == []


@pytest.mark.parametrize("code", [130429, 131056])
def test_metas_rate_limits_are_retried_then_accepted(service: Service, code: int) -> None:
    service.woosh.fail_next(TECH, error=None, status=502, raw_body=meta_refusal(code, "Rate limit hit"))
    result = service.post_alert(ALERT)
    assert result.status == 201, result.text
    assert result.json()["messages"][0]["status"] == "accepted"
    assert sends_to(service, TECH) == [502, 200]


def test_a_rate_limit_that_does_not_clear_by_the_deadline_leaves_the_message_queued(service: Service) -> None:
    # SPEC §11: refused for rate until the deadline means never sent: `queued` (it goes when the
    # limits allow), not a failed delivery. Before, this answered 502 with the 130429 error.
    service.woosh.fail_next(
        TECH, error=None, status=502, raw_body=meta_refusal(130429, "Rate limit hit"), times=10
    )
    result = service.post_alert(ALERT)
    assert result.status == 201
    assert result.json()["messages"][0] == {"to": TECH.lstrip("+"), "message_id": None, "status": "queued"}
    assert 2 <= len(sends_to(service, TECH)) <= 4  # tried again, with backoff, then left to the queue
    assert service.details("Alert Delivery Failed") == []


def test_131026_undeliverable_is_final_and_published(service: Service) -> None:
    service.woosh.fail_next(
        TECH, error=None, status=502, raw_body=meta_refusal(131026, "Message undeliverable")
    )
    result = service.post_alert(ALERT)
    assert result.status == 502
    assert result.json()["messages"][0]["error"] == {
        "code": "131026",
        "title": "(#131026) Message undeliverable",
    }
    assert sends_to(service, TECH) == [502]
    [failed] = service.details("Alert Delivery Failed")
    assert failed["error"]["code"] == "131026"


# -- template mode ------------------------------------------------------------------------------


def template_mode(monkeypatch: pytest.MonkeyPatch, params: str | None) -> None:
    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alert")
    monkeypatch.delenv("ALERT_TEMPLATE_LANGUAGE", raising=False)
    if params is None:
        monkeypatch.delenv("ALERT_TEMPLATE_PARAMS", raising=False)
    else:
        monkeypatch.setenv("ALERT_TEMPLATE_PARAMS", params)
    reset_caches()


def body_parameters(sent: dict[str, Any]) -> list[dict[str, Any]]:
    [body] = [c for c in sent["template"]["components"] if c["type"] == "body"]
    return list(body["parameters"])


def test_location_alone_sends_exactly_one_body_parameter(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    template_mode(monkeypatch, "location")
    result = service.post_alert(ALERT)
    assert result.status == 201, result.text
    [sent] = service.woosh.sent
    assert sent.body["type"] == "template"
    assert sent.body["template"]["language"] == {"code": "en"}
    assert body_parameters(sent.body) == [{"type": "text", "text": "Sandton Office Park, LIFT-A, floor 3"}]
    assert [title for _id, title in sent.buttons] == ["Test", "Maintenance", "Entrapment"]


def test_default_params_fill_five_variables(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    template_mode(monkeypatch, None)
    service.post_alert({**ALERT, "site": ""})
    [sent] = service.woosh.sent
    assert [p["text"] for p in body_parameters(sent.body)] == [
        "LIFT ALARM",
        "EMG-2024-001",
        "-",
        "LIFT-A",
        "3",
    ]


def test_a_multiline_note_reaches_the_template_on_one_line(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    template_mode(monkeypatch, "ticket_id,note")
    service.post_alert({**ALERT, "note": "Alarm pressed\nPassenger      on the phone"})
    [sent] = service.woosh.sent
    assert [p["text"] for p in body_parameters(sent.body)] == [
        "EMG-2024-001",
        "Alarm pressed · Passenger on the phone",
    ]


def test_reminders_fill_text_with_their_heading(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    template_mode(monkeypatch, "text")
    alert = service.send_alert([TECH], escalation={"after_seconds": 60, "max_rounds": 2})
    created = datetime.fromisoformat(
        service.get_alert(alert["alert_id"]).json()["created_at"].replace("Z", "+00:00")
    )
    assert service.run_timer(created + timedelta(seconds=61))["rounds_sent"] == [f"{alert['alert_id']}:1"]
    texts = [body_parameters(s.body) for s in service.woosh.sent]
    assert [len(t) for t in texts] == [1, 1]
    first, reminder = (t[0]["text"] for t in texts)
    assert first.startswith("LIFT ALARM - ticket EMG-1 · Site: Sandton Office Park · Lift: LIFT-A, floor 3")
    assert reminder.startswith("REMINDER 1/2 · LIFT ALARM - ticket EMG-1 · ")
    assert "\n" not in first + reminder


# -- a bad setting stops the function at cold start ---------------------------------------------


BAD_SETTINGS = [
    (
        "ALERT_TEMPLATE_PARAMS",
        "heading,ticket,site",
        r"ALERT_TEMPLATE_PARAMS.*'ticket'",
        ["send", "escalation"],
    ),
    # Before, this passed the cold start and every POST /alerts was then answered 503 "please
    # retry": a retry can never cure a setting.
    (
        "WOOSH_RATE_PER_MINUTE",
        "100000",
        r"WOOSH_RATE_PER_MINUTE must be between 1 and 10000",
        ["send", "escalation", "followup", "dispatcher"],
    ),
]


@pytest.mark.parametrize(
    ("variable", "value", "named", "function"),
    [(variable, value, named, fn) for variable, value, named, functions in BAD_SETTINGS for fn in functions],
)
def test_a_bad_setting_fails_the_cold_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str, function: str
) -> None:
    monkeypatch.setenv(variable, value)
    reset_caches()
    try:
        with pytest.raises(ConfigurationError, match=named):
            container_module(function, "cold")
    finally:
        monkeypatch.undo()
        reset_caches()
