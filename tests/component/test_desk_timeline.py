"""GET /alerts/{alert_id}'s `timeline` (SPEC §13): an alert's story as the desk shows it, through
the handlers with AWS in moto and the stand-in Woosh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.service import Service

TECH = "27824537125"
DESK = "27831234567"
SUPERVISOR = "27820000001"
FIELDS_BEFORE = {
    "alert_id", "ticket_id", "lift_id", "site", "floor", "note", "created_at", "state", "outcome",
    "recipients", "first_response", "responses", "escalation", "closed_at", "close_reason",
    "messages_received", "confirmation",
}  # fmt: skip


def story(service: Service, alert_id: str) -> list[dict[str, Any]]:
    service.publish()  # acknowledgements, notices, confirmation requests: the follow-up function
    view = service.get_alert(alert_id).json()
    assert set(view) == FIELDS_BEFORE | {"timeline"}  # GET's fields unchanged, `timeline` added
    entries: list[dict[str, Any]] = view["timeline"]
    times = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in entries]
    assert times == sorted(times), "oldest first"
    return entries


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The time the send API and the follow-up function read (`clock[0]`), set by the test:
    with the timer run at explicit times, the whole story keeps one time line."""
    now = [datetime.now(UTC).replace(microsecond=0)]
    for module in ("create_alert", "follow_up"):
        monkeypatch.setattr(f"lift_alerts.flows.{module}.utc_now", lambda: now[0])
    return now


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_at(service: Service, alert_id: str) -> datetime:
    return datetime.fromisoformat(service.get_alert(alert_id).json()["created_at"].replace("Z", "+00:00"))


def test_an_entrapment_story_from_the_alert_to_the_yes(service: Service) -> None:
    for phone in (TECH, DESK, SUPERVISOR):
        service.wrote(phone, seconds_ago=600)  # inside the window: texts and buttons
    alert = service.send_alert(
        [TECH, DESK], escalation={"after_seconds": 60, "max_rounds": 1, "recipients": [SUPERVISOR]}
    )
    alert_id = alert["alert_id"]
    first_message = alert["messages"][0]["message_id"]
    sent_ts = int(created_at(service, alert_id).timestamp())
    # Statuses out of order and twice: read before delivered, sent repeated.
    service.status(first_message, "sent", timestamp=sent_ts + 1)
    service.status(first_message, "read", timestamp=sent_ts + 9)
    service.status(first_message, "delivered", timestamp=sent_ts + 5)
    service.status(first_message, "sent", timestamp=sent_ts + 7)
    service.run_timer(created_at(service, alert_id) + timedelta(seconds=61))  # round 1
    reminder = next(m for m in service.woosh.sent if m.to == SUPERVISOR)
    service.tap(reminder.message_id, 2, name="Supervisor", timestamp=sent_ts + 70)  # Entrapment, first
    service.tap(first_message, 0, name="Tech", timestamp=sent_ts + 80)  # Test, later
    reply = service.woosh.reply(
        TECH, "on my way", context_id=first_message, post=False, timestamp=sent_ts + 85
    )
    service.webhook(reply["payload"])
    service.publish()  # the confirmation request goes out
    question = next(m for m in service.woosh.sent if m.to == DESK and "service provider" in (m.text or ""))
    assert service.tap(question.message_id, 0, name="Desk", timestamp=sent_ts + 200).status == 200  # YES

    entries = story(service, alert_id)

    kinds = [e["kind"] for e in entries]
    for kind in ("message", "escalated", "tap", "reply", "confirmation_requested", "confirmed", "closed"):
        assert kind in kinds, kind
    messages = [e for e in entries if e["kind"] == "message"]
    assert {e["what"] for e in messages} >= {"alert", "reminder", "acknowledgement", "notice", "confirmation"}
    first = next(e for e in messages if e["message_id"] == first_message)
    # Each status with the time WhatsApp gave it (the first time it came), in the order a
    # message moves through them, also when they arrived out of order.
    assert first["statuses"] == [
        {"status": "sent", "at": iso(sent_ts + 1)},
        {"status": "delivered", "at": iso(sent_ts + 5)},
        {"status": "read", "at": iso(sent_ts + 9)},
    ]
    assert first["status"] == "read"
    assert (first["to"], first["round"], first["channel"]) == (TECH, 0, "interactive")
    taps = [e for e in entries if e["kind"] == "tap"]
    assert [(t["choice"], t["first"], t["responder"]["wa_id"]) for t in taps] == [
        ("entrapment", True, SUPERVISOR),
        ("test", False, TECH),
    ]
    escalated = next(e for e in entries if e["kind"] == "escalated")
    assert (escalated["round"], escalated["reason"]) == (1, "no_response")
    assert kinds.index("escalated") < next(i for i, e in enumerate(entries) if e.get("what") == "reminder"), (
        "a round comes before its reminders"
    )
    assert next(e for e in entries if e["kind"] == "reply")["text"] == "on my way"
    confirmed = next(e for e in entries if e["kind"] == "confirmed")
    assert confirmed["by"] == {"wa_id": DESK, "name": "Desk"}
    assert next(e for e in entries if e["kind"] == "closed")["reason"] == "provider_confirmed"
    assert kinds.index("confirmed") < kinds.index("closed")
    acks = [e for e in messages if e["what"] == "acknowledgement"]
    assert {e["to"] for e in acks} == {SUPERVISOR, TECH}  # their taps and TECH's reply
    confirmations = [e for e in messages if e["what"] == "confirmation"]
    assert {e["to"] for e in confirmations} == {TECH, DESK, SUPERVISOR}
    assert all(e["round"] == 0 for e in confirmations)


def test_unanswered_then_critical(service: Service, clock: list[datetime]) -> None:
    for phone in (TECH, DESK):
        service.wrote(phone, seconds_ago=600)
    alert_id = service.send_alert([TECH, DESK], escalation={"after_seconds": 60, "max_rounds": 0})["alert_id"]
    service.run_timer(clock[0] + timedelta(seconds=61))
    clock[0] += timedelta(seconds=62)

    entries = story(service, alert_id)

    kinds = [e.get("what", e["kind"]) for e in entries]
    assert kinds == ["alert", "alert", "unanswered", "critical", "critical"]
    assert entries[2]["rounds"] == 0


def test_a_failed_send_and_a_failed_status_show_their_errors(service: Service) -> None:
    alert = service.send_alert([TECH, DESK])
    message = alert["messages"][1]["message_id"]
    service.status(message, "failed", error_code=131026, error_title="Message undeliverable")

    entries = story(service, alert["alert_id"])

    failed = next(e for e in entries if e["message_id"] == message)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "131026"
    assert [s["status"] for s in failed["statuses"]] == ["failed"]


def test_a_template_fallback_after_131047(template_mode: Service) -> None:
    service = template_mode
    service.wrote(DESK, seconds_ago=600)  # interactive for DESK, template for TECH
    alert = service.send_alert([TECH, DESK])
    interactive = next(m for m in alert["messages"] if m["to"] == DESK)["message_id"]
    service.status(interactive, "failed", error_code=131047, error_title="Re-engagement message")

    entries = story(service, alert["alert_id"])

    desk = [e for e in entries if e["kind"] == "message" and e["to"] == DESK]
    assert [(e["what"], e["channel"], e["status"]) for e in desk] == [
        ("alert", "interactive", "failed"),
        ("fallback", "template", "accepted"),
    ]
    assert desk[0]["error"]["code"] == "131047"


def test_confirmation_missed(
    service: Service, monkeypatch: pytest.MonkeyPatch, clock: list[datetime]
) -> None:
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("CONFIRM_MAX_ROUNDS", "0")
    get_settings.cache_clear()
    for phone in (TECH, DESK):
        service.wrote(phone, seconds_ago=600)
    alert = service.send_alert([TECH, DESK])
    service.tap(alert["messages"][0]["message_id"], 2)
    clock[0] += timedelta(seconds=5)
    service.publish()  # asked
    service.run_timer(clock[0] + timedelta(seconds=300))  # one wait after the request: missed
    clock[0] += timedelta(seconds=301)

    entries = story(service, alert["alert_id"])

    kinds = [e["kind"] for e in entries]
    assert kinds.index("confirmation_requested") < kinds.index("confirmation_missed")
    missed_at = entries[kinds.index("confirmation_missed")]["at"]
    notices = [e for e in entries if e.get("what") == "notice" and e["at"] >= missed_at]
    assert {e["to"] for e in notices} >= {TECH, DESK}
