"""POST /alerts, GET /alerts/{id}, close: what the ticketing system sees (SPEC §4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lift_alerts.domain.choices import parse_button_id
from local.make_events import EXAMPLE_ALERT
from tests.support.service import Service

ALERT = {**EXAMPLE_ALERT, "recipients": ["+27824537125", "27831234567"]}


def table_items(service: Service) -> list[dict]:
    return service.ddb.scan(TableName=service.table)["Items"]


def test_send_creates_one_message_per_recipient_with_three_buttons(service: Service) -> None:
    result = service.post_alert(ALERT)
    assert result.status == 201
    body = result.json()
    assert body["ticket_id"] == "EMG-2024-001"
    assert [m["to"] for m in body["messages"]] == ["27824537125", "27831234567"]
    assert all(m["status"] == "accepted" and m["message_id"].startswith("wamid.") for m in body["messages"])

    sent = service.woosh.sent
    assert sorted(s.to for s in sent) == ["27824537125", "27831234567"]
    for message in sent:
        assert message.headers.get("X-Api-Key") == "test-woosh-key"
        assert [title for _id, title in message.buttons] == ["Test", "Maintenance", "Entrapment"]
        refs = [parse_button_id(button_id) for button_id, _title in message.buttons]
        assert [r.alert_id for r in refs if r] == [body["alert_id"]] * 3
        assert [r.choice.value for r in refs if r] == ["test", "maintenance", "entrapment"]
        text = message.body["interactive"]["body"]["text"]
        assert "Sandton Office Park" in text
        assert "LIFT-A" in text
        assert "floor 3" in text


def test_get_shows_the_alert_as_stored(service: Service) -> None:
    body = service.post_alert(ALERT).json()
    view = service.get_alert(body["alert_id"]).json()
    assert view["ticket_id"] == "EMG-2024-001"
    assert view["state"] == "awaiting_response"
    assert view["outcome"] is None
    assert view["first_response"] is None
    assert view["responses"] == []
    assert view["created_at"].endswith("Z")
    assert [(r["to"], r["delivery_status"]) for r in view["recipients"]] == [
        ("27824537125", "accepted"),
        ("27831234567", "accepted"),
    ]
    assert view["escalation"]["rounds_sent"] == 0
    assert view["escalation"]["next_due_at"].endswith("Z")


def test_recipients_are_deduplicated_by_digits(service: Service) -> None:
    body = service.post_alert({**ALERT, "recipients": ["+27824537125", "27824537125"]}).json()
    assert [m["to"] for m in body["messages"]] == ["27824537125"]
    assert len(service.woosh.sent) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**ALERT, "ticket_id": ""}, "ticket_id"),
        ({k: v for k, v in ALERT.items() if k != "lift_id"}, "lift_id"),
        ({**ALERT, "recipients": []}, "recipients"),
        ({**ALERT, "recipients": ["+27824537125", "12ab"]}, "recipients"),
        ({**ALERT, "recipients": ["1234567"]}, "recipients"),
        ({**ALERT, "recipients": "27824537125"}, "recipients"),
        ({**ALERT, "note": "x" * 501}, "note"),
        ({**ALERT, "site": "\ud800"}, "site"),
        ({**ALERT, "escalation": {"after_seconds": 0}}, "escalation.after_seconds"),
        ({**ALERT, "escalation": {"max_rounds": 11}}, "escalation.max_rounds"),
        ({**ALERT, "escalation": {"recipients": ["nope"]}}, "escalation.recipients"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_nothing_is_sent_or_stored(
    service: Service, payload: dict, field: str
) -> None:
    result = service.post_alert(payload)
    assert result.status == 400, result.text
    fields = [e["field"] for e in result.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert service.woosh.sent == []
    assert table_items(service) == []


@pytest.mark.parametrize(
    "raw", [b"", b"{not json", b"[1,2]", b"null", b'"text"', b"\xff\xfe{}", b'{"ticket_id": "\\ud800"}']
)
def test_malformed_bodies_are_400(service: Service, raw: bytes) -> None:
    from tests.support.harness import http_event

    result = service.call("send", http_event("POST", "/alerts", body=raw))
    assert result.status == 400, result.text
    assert service.woosh.sent == []


def test_body_over_64_kib_is_413(service: Service) -> None:
    result = service.post_alert({**ALERT, "padding": "x" * (64 * 1024)})
    assert result.status == 413
    assert service.woosh.sent == []


def test_woosh_failing_for_one_recipient_is_reported_per_recipient(service: Service) -> None:
    service.woosh.fail_next("27831234567", error="invalid_phone")
    result = service.post_alert(ALERT)
    assert result.status == 201
    messages = {m["to"]: m for m in result.json()["messages"]}
    assert messages["27824537125"]["status"] == "accepted"
    assert messages["27831234567"]["status"] == "failed"
    assert messages["27831234567"]["message_id"] is None
    assert messages["27831234567"]["error"]["code"] == "invalid_phone"
    failed = service.details("Alert Delivery Failed")
    assert len(failed) == 1
    assert failed[0]["recipient"] == "27831234567"
    assert failed[0]["message_id"] is None
    assert failed[0]["error"]["code"] == "invalid_phone"
    view = service.get_alert(result.json()["alert_id"]).json()
    assert [r["delivery_status"] for r in view["recipients"]] == ["accepted", "failed"]


def test_woosh_failing_for_everyone_is_502_with_the_same_body(service: Service) -> None:
    service.woosh.fail_next(error="invalid_api_key", times=2)
    result = service.post_alert(ALERT)
    assert result.status == 502
    body = result.json()
    assert body["alert_id"]
    assert [m["error"]["code"] for m in body["messages"]] == ["invalid_api_key", "invalid_api_key"]
    assert len(service.details("Alert Delivery Failed")) == 2


def test_woosh_broken_json_is_bad_response(service: Service) -> None:
    service.woosh.fail_next(error=None, status=200, raw_body="<html>oops</html>")
    result = service.post_alert({**ALERT, "recipients": ["27824537125"]})
    assert result.status == 502
    assert result.json()["messages"][0]["error"]["code"] == "bad_response"


def test_woosh_server_error_is_retried_once_then_accepted(service: Service) -> None:
    service.woosh.fail_next(error="server_error")
    result = service.post_alert({**ALERT, "recipients": ["27824537125"]})
    assert result.status == 201
    assert [s.status_code for s in service.woosh.sent] == [500, 200]


# The minimal body is tests/robustness/test_faults.py's (the key retried after faults there).
@pytest.mark.parametrize(
    "body",
    [ALERT, {"ticket_id": "EMG-I", "lift_id": "LIFT-A", "recipients": ["+27824537125", "+27831234567"]}],
    ids=["full", "minimal"],
)
def test_idempotency_key_returns_the_first_response_and_sends_nothing_again(
    service: Service, body: dict[str, Any]
) -> None:
    first = service.post_alert(body, headers={"Idempotency-Key": "retry-1"})
    again = service.post_alert(body, headers={"idempotency-key": "retry-1"})
    assert first.status == again.status == 201
    assert again.json() == first.json()
    assert len(service.woosh.sent) == 2
    different = service.post_alert({**body, "lift_id": "LIFT-B"}, headers={"IDEMPOTENCY-KEY": "retry-1"})
    assert different.status == 422
    assert len(service.woosh.sent) == 2


def test_template_mode_sends_quick_replies_in_order(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alert")
    monkeypatch.setenv("ALERT_TEMPLATE_LANGUAGE", "en_GB")
    get_settings.cache_clear()
    body = service.post_alert({**ALERT, "recipients": ["27824537125"]}).json()
    sent = service.woosh.sent[0].body
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "lift_alert"
    assert sent["template"]["language"] == {"code": "en_GB"}
    buttons = [c for c in sent["template"]["components"] if c["type"] == "button"]
    assert [b["index"] for b in buttons] == ["0", "1", "2"]
    payloads = [parse_button_id(b["parameters"][0]["payload"]) for b in buttons]
    assert [(p.alert_id, p.choice.value) for p in payloads if p] == [
        (body["alert_id"], "test"),
        (body["alert_id"], "maintenance"),
        (body["alert_id"], "entrapment"),
    ]


def test_unknown_alert_is_404_and_wrong_method_405(service: Service) -> None:
    from tests.support.harness import http_event

    assert service.get_alert("0" * 32).status == 404
    assert service.get_alert("not-an-id").status == 404
    assert service.close_alert("0" * 32).status == 404
    wrong = service.call("send", http_event("DELETE", "/alerts"))
    assert wrong.status == 405
    assert wrong.headers.get("Allow") == "GET, POST"  # GET /alerts is the desk's list (SPEC §13)
    assert service.call("send", http_event("GET", "/nowhere")).status == 404


def test_close_is_idempotent_and_final(service: Service) -> None:
    body = service.post_alert(ALERT).json()
    first = service.close_alert(body["alert_id"], {"reason": "technician on site"})
    assert first.status == 200
    assert first.json()["state"] == "closed"
    again = service.close_alert(body["alert_id"], {"reason": "other"})
    assert again.json()["close_reason"] == "technician on site"
    message_id = body["messages"][0]["message_id"]
    service.tap(message_id, 2)
    view = service.get_alert(body["alert_id"]).json()
    assert view["state"] == "closed"
    assert view["outcome"] == "entrapment"
    assert len(service.details("Alert Response Received")) == 1


def test_response_and_events_carry_no_plus_signs(service: Service) -> None:
    body = service.post_alert(ALERT).json()
    assert "+" not in json.dumps(body)
