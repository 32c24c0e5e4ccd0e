"""The handlers' answers and the published events conform to openapi.yaml (handlers, moto, stand-in)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from local.make_events import EXAMPLE_ALERT
from tests.support.harness import LOCAL_SECRET, http_event
from tests.support.openapi import assert_conforms, component


def _webhook_get(service: Any, query: dict[str, str]) -> Any:
    return service.call("webhook", http_event("GET", "/webhook", query=query))


def test_send_api_responses_conform(service: Any) -> None:
    body = {
        **EXAMPLE_ALERT,
        "recipients": ["+27824537125", "27831234567"],
        "escalation": {"after_seconds": 60, "max_rounds": 1, "recipients": ["+27825550000"]},
    }
    service.woosh.fail_next("27831234567", error="invalid_phone")
    created = assert_conforms("/alerts", "POST", service.post_alert(body))
    assert {m["status"] for m in created["messages"]} == {"accepted", "failed"}
    alert_id = created["alert_id"]

    fresh = assert_conforms("/alerts/{alert_id}", "GET", service.get_alert(alert_id))
    assert fresh["first_response"] is None
    assert fresh["outcome"] is None
    assert fresh["escalation"]["next_due_at"] is not None

    accepted = next(m for m in created["messages"] if m["status"] == "accepted")
    assert service.tap(accepted["message_id"], 2).status == 200
    answered = assert_conforms("/alerts/{alert_id}", "GET", service.get_alert(alert_id))
    assert answered["state"] == "answered"
    assert answered["first_response"]["choice"] == "entrapment"

    closed = assert_conforms(
        "/alerts/{alert_id}/close", "POST", service.close_alert(alert_id, {"reason": "rescued"})
    )
    assert closed["state"] == "closed"

    assert_conforms("/alerts/{alert_id}", "GET", service.get_alert("0" * 32)).get("message")
    assert_conforms("/alerts/{alert_id}/close", "POST", service.close_alert("nope"))
    assert_conforms("/alerts/{alert_id}/close", "POST", service.close_alert(alert_id, {"reason": 5}))
    assert_conforms("/alerts", "POST", service.post_alert({"ticket_id": "T"}))
    assert_conforms("/alerts", "POST", service.post_alert(b"{" + b" " * (64 * 1024)))


def test_all_failed_send_is_a_conforming_502(service: Any) -> None:
    service.woosh.fail_next(error="invalid_phone")
    result = service.post_alert({"ticket_id": "T", "lift_id": "L", "recipients": ["27824537125"]})
    assert result.status == 502
    body = assert_conforms("/alerts", "POST", result)
    assert body["messages"][0]["error"]["code"] == "invalid_phone"


def test_idempotency_answers_conform(service: Any) -> None:
    body = {"ticket_id": "T", "lift_id": "L", "recipients": ["27824537125"]}
    first = service.post_alert(body, headers={"Idempotency-Key": "k-1"})
    again = service.post_alert(body, headers={"idempotency-key": "k-1"})
    assert first.status == again.status == 201
    assert first.json() == again.json()
    other = service.post_alert({**body, "lift_id": "M"}, headers={"Idempotency-Key": "k-1"})
    assert other.status == 422
    assert_conforms("/alerts", "POST", other)


def test_webhook_responses_conform(service: Any) -> None:
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": LOCAL_SECRET["verify_token"],
        "hub.challenge": "1158201444",
    }
    assert assert_conforms("/webhook", "GET", _webhook_get(service, good)) == "1158201444"
    assert_conforms("/webhook", "GET", _webhook_get(service, {**good, "hub.verify_token": "nope"}))

    sent = service.send_alert(["27824537125"])
    message_id = sent["messages"][0]["message_id"]
    tapped = assert_conforms("/webhook", "POST", service.tap(message_id, 0))
    assert tapped["received"] == 1
    assert_conforms("/webhook", "POST", service.status(message_id, "read"))
    assert_conforms("/webhook", "POST", service.webhook({"hello": "world"}))
    assert_conforms("/webhook", "POST", service.webhook(b"not json"))
    assert_conforms("/webhook", "POST", service.webhook({"entry": []}, sign=False))
    assert_conforms("/webhook", "POST", service.webhook(b" " * (5 * 1024 * 1024 + 1)))


def test_published_events_conform_to_their_component_schemas(service: Any) -> None:
    service.woosh.fail_next("27831234567", error="invalid_phone")
    sent = service.send_alert(
        ["27824537125", "27831234567"], escalation={"after_seconds": 60, "max_rounds": 1}
    )
    accepted = next(m for m in sent["messages"] if m["status"] == "accepted")
    assert service.tap(accepted["message_id"], 1).status == 200
    other = service.send_alert(["27824537126"], escalation={"after_seconds": 1, "max_rounds": 1})
    later = datetime.now(UTC) + timedelta(seconds=5)
    service.run_timer(later)
    service.run_timer(later + timedelta(seconds=5))
    schemas = {
        "Alert Response Received": "ResponseReceivedEvent",
        "Alert Delivery Failed": "DeliveryFailedEvent",
        "Alert Escalated": "EscalatedEvent",
        "Alert Unanswered": "UnansweredEvent",
    }
    seen = set()
    for event in service.events():
        name = schemas[event["detail-type"]]
        errors = [e.message for e in component(name).iter_errors(event["detail"])]
        assert not errors, f"{name}: {errors}\n{json.dumps(event['detail'])}"
        seen.add(event["detail-type"])
    assert seen == set(schemas), (seen, other["alert_id"])
