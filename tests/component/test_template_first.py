"""Template-first delivery and the 131047 fallback (SPEC §5, issue 12 item 6).

Through the handlers with AWS in moto and Woosh on loopback: what each phone was sent
(interactive or template), what GET shows per recipient, what reached the bus, and that
taps on a template fallback match their alert by context.id.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.service import Service

TECH = "27824537125"  # never wrote to the business
COLLEAGUE = "27831234567"  # wrote this morning
SUPERVISOR = "27820000001"
HOUR = 3600


def sent_to(service: Service, to: str) -> list[Any]:
    return [m for m in service.woosh.sent if m.to == to and m.accepted]


def recipient(service: Service, alert_id: str, to: str) -> dict[str, Any]:
    lines = service.get_alert(alert_id).json()["recipients"]
    return next(line for line in lines if line["to"] == to)


def fail_131047(service: Service, message_id: str) -> None:
    service.status(message_id, "failed", error_code=131047, error_title="Re-engagement message")


def body_params(message: Any) -> list[str]:
    """The texts filling a template message's body variables, in order."""
    components = message.body["template"]["components"]
    return [p["text"] for c in components if c["type"] == "body" for p in c["parameters"]]


def test_template_outside_the_window_interactive_inside(template_mode: Service) -> None:
    service = template_mode
    assert service.wrote(COLLEAGUE, seconds_ago=3 * HOUR).status == 200
    alert = service.send_alert([TECH, COLLEAGUE])
    assert [m.kind for m in sent_to(service, TECH)] == ["template"]
    assert [m.kind for m in sent_to(service, COLLEAGUE)] == ["interactive"]
    assert recipient(service, alert["alert_id"], TECH)["channel"] == "template"
    assert recipient(service, alert["alert_id"], COLLEAGUE)["channel"] == "interactive"
    assert recipient(service, alert["alert_id"], COLLEAGUE)["fallback"] is False


def test_the_window_has_a_ten_minute_margin(template_mode: Service) -> None:
    service = template_mode
    service.wrote(TECH, seconds_ago=24 * HOUR - 11 * 60)  # 23 h 49 min ago: still open
    service.wrote(COLLEAGUE, seconds_ago=24 * HOUR - 5 * 60)  # 23 h 55 min ago: inside the margin
    service.send_alert([TECH, COLLEAGUE])
    assert [m.kind for m in sent_to(service, TECH)] == ["interactive"]
    assert [m.kind for m in sent_to(service, COLLEAGUE)] == ["template"]


def test_a_tap_opens_the_window_and_an_older_message_never_closes_it(template_mode: Service) -> None:
    service = template_mode
    first = service.send_alert([TECH])
    service.tap(first["messages"][0]["message_id"], 1)  # a tap is a message to the business
    service.follow_up()  # a tap stored on its alert moves the window from the alert's stream record
    service.wrote(TECH, seconds_ago=30 * HOUR)  # delivered late: older than the tap
    service.send_alert([TECH], ticket_id="EMG-2")
    # The alert as template, the tap's acknowledgement (text), then the next alert interactive.
    assert [m.kind for m in sent_to(service, TECH)] == ["template", "text", "interactive"]


def test_a_message_with_only_a_user_id_counts_for_the_phone_last_seen_with_it(template_mode: Service) -> None:
    from local.woosh_standin import webhook_envelope

    service = template_mode
    old = {"from": TECH, "id": "wamid.OLD", "timestamp": "1000", "type": "text", "text": {"body": "x"}}
    service.webhook(webhook_envelope({"contacts": [{"wa_id": TECH, "user_id": "ZA.42"}], "messages": [old]}))
    import time

    recent = {
        "from_user_id": "ZA.42",
        "id": "wamid.NEW",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "on my way"},
    }
    service.webhook(webhook_envelope({"contacts": [{"user_id": "ZA.42"}], "messages": [recent]}))
    service.send_alert([TECH])
    assert [m.kind for m in sent_to(service, TECH)] == ["interactive"]


def test_without_a_template_everyone_gets_interactive_and_131047_is_a_published_failure(
    service: Service,
) -> None:
    alert = service.send_alert([TECH])
    message_id = alert["messages"][0]["message_id"]
    fail_131047(service, message_id)
    failed = service.details("Alert Delivery Failed")
    assert [(f["message_id"], f["error"]["code"]) for f in failed] == [(message_id, "131047")]
    assert [m.kind for m in sent_to(service, TECH)] == ["interactive"]  # no fallback
    line = recipient(service, alert["alert_id"], TECH)
    assert (line["delivery_status"], line["channel"], line["fallback"]) == ("failed", "interactive", False)


def test_131047_later_is_resent_as_the_template_and_its_tap_matches(template_mode: Service) -> None:
    service = template_mode
    service.wrote(COLLEAGUE, seconds_ago=HOUR)
    alert = service.send_alert([COLLEAGUE])
    original = alert["messages"][0]["message_id"]
    # WhatsApp's window was closed after all (e.g. the number changed hands): 131047.
    fail_131047(service, original)
    assert service.details("Alert Delivery Failed") == []  # the fallback replaces it
    # Not "all deliveries failed": the next reminder keeps its time.
    assert service.stored_alert(alert["alert_id"])["due_at"] > int(time.time()) + 60
    kinds = [m.kind for m in sent_to(service, COLLEAGUE)]
    assert kinds == ["interactive", "template"]
    fallback = sent_to(service, COLLEAGUE)[1]
    params = body_params(fallback)
    assert "LIFT ALARM" in params[0]
    assert "EMG-1" in " ".join(params)
    line = recipient(service, alert["alert_id"], COLLEAGUE)
    assert line == {
        "to": COLLEAGUE,
        "message_id": fallback.message_id,
        "delivery_status": "accepted",
        "channel": "template",
        "fallback": True,
        "notices_skipped": 0,  # SPEC §10: each recipient's entry gains the count
    }
    # The person taps Entrapment on the template: matched by context.id to this alert.
    service.tap(fallback.message_id, 2)
    responses = service.details("Alert Response Received")
    assert [(r["alert_id"], r["choice"], r["matched_by"], r["original_message_id"]) for r in responses] == [
        (alert["alert_id"], "entrapment", "context", fallback.message_id)
    ]
    stored = service.stored_alert(alert["alert_id"])
    assert "due_at" not in stored  # the tap on the fallback stopped escalation
    assert service.get_alert(alert["alert_id"]).json()["state"] == "answered"


def test_the_fallback_is_sent_once_when_the_status_and_the_stream_record_come_again(
    template_mode: Service,
) -> None:
    service = template_mode
    service.wrote(COLLEAGUE)
    alert = service.send_alert([COLLEAGUE])
    original = alert["messages"][0]["message_id"]
    fail_131047(service, original)
    service.events()
    fail_131047(service, original)  # the Bridge's wrapper repeats what Meta's payload said
    service.events()
    # A re-delivered stream record (Lambda retries a batch): the alert says it was done.
    from lift_alerts.flows.template_fallbacks import send_template_fallback
    from lift_alerts.platform.config import get_settings
    from lift_alerts.store.repositories import Repositories

    failure = service.stored_alert(alert["alert_id"])["failures"][original]
    done = send_template_fallback(
        alert["alert_id"],
        original,
        failure,
        Repositories.of(service.table),
        lambda: pytest.fail("must not send again"),  # type: ignore[arg-type,return-value]
        get_settings(),
        __import__("datetime").datetime.now(__import__("datetime").UTC),
    )
    assert done == "fallback_already_sent"
    assert [m.kind for m in sent_to(service, COLLEAGUE)] == ["interactive", "template"]


def test_a_fallback_that_fails_too_is_published_once_with_its_own_error(template_mode: Service) -> None:
    service = template_mode
    service.wrote(COLLEAGUE)
    alert = service.send_alert([COLLEAGUE])
    original = alert["messages"][0]["message_id"]
    service.woosh.fail_next(COLLEAGUE, error="template_not_found")
    fail_131047(service, original)
    failed = service.details("Alert Delivery Failed")
    assert [(f["recipient"], f["message_id"], f["error"]["code"]) for f in failed] == [
        (COLLEAGUE, None, "template_not_found")
    ]
    line = recipient(service, alert["alert_id"], COLLEAGUE)
    assert (line["message_id"], line["delivery_status"], line["fallback"]) == (None, "failed", True)
    assert line["error"]["code"] == "template_not_found"
    # Every message of round 0 failed (the fallback too): the next step is due now.
    stored = service.stored_alert(alert["alert_id"])
    assert stored["due_at"] <= int(__import__("time").time())


def test_a_failed_fallback_template_status_is_published_with_the_fallback_id(template_mode: Service) -> None:
    service = template_mode
    service.wrote(COLLEAGUE)
    alert = service.send_alert([COLLEAGUE])
    fail_131047(service, alert["messages"][0]["message_id"])
    service.events()
    fallback = sent_to(service, COLLEAGUE)[1]
    service.status(fallback.message_id, "failed", error_code=131026, error_title="Message undeliverable")
    failed = service.details("Alert Delivery Failed")
    assert [(f["message_id"], f["error"]["code"]) for f in failed] == [(fallback.message_id, "131026")]
    assert [m.kind for m in sent_to(service, COLLEAGUE)] == ["interactive", "template"]  # 131026: no retry


def test_131047_answered_at_send_time_is_replaced_at_once(template_mode: Service) -> None:
    service = template_mode
    service.wrote(COLLEAGUE)
    service.woosh.fail_next(COLLEAGUE, error="131047", status=400)
    result = service.post_alert(
        {
            "ticket_id": "EMG-1",
            "lift_id": "LIFT-A",
            "site": "Sandton",
            "floor": "3",
            "recipients": [COLLEAGUE],
        }
    )
    assert result.status == 201, result.text
    line = result.json()["messages"][0]
    template = sent_to(service, COLLEAGUE)
    assert [m.kind for m in template] == ["template"]
    assert line == {"to": COLLEAGUE, "message_id": template[0].message_id, "status": "accepted"}
    assert service.details("Alert Delivery Failed") == []
    view = recipient(service, result.json()["alert_id"], COLLEAGUE)
    assert (view["channel"], view["fallback"]) == ("template", True)


def test_a_status_before_the_mapping_still_gets_its_fallback(template_mode: Service) -> None:
    from lift_alerts.domain.deliveries import Delivery, SendResult, round_records
    from lift_alerts.platform.config import get_settings
    from lift_alerts.store.repositories import Repositories

    service = template_mode
    alert = service.send_alert([TECH])
    repos = Repositories.of(service.table)
    early = "wamid.EARLY131047"
    payload = service.woosh.status(
        alert["messages"][0]["message_id"], "failed", error_code=131047, post=False
    )
    payload["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = early
    service.webhook(payload["payload"])
    # A reminder round stores an interactive message's mapping after that status.
    message = repos.messages.store_message(
        early, alert_id=alert["alert_id"], recipient=COLLEAGUE, round_no=0, expires_at=2**31
    )
    assert message["delivery_status"] == "failed"
    delivery = Delivery(
        COLLEAGUE, SendResult(COLLEAGUE, early), "interactive", message["delivery_error"], True
    )
    records = round_records(alert["alert_id"], 0, [delivery])
    repos.alerts.record_failure(alert["alert_id"], early, records.failures[early])
    assert service.details("Alert Delivery Failed") == []
    assert [m.kind for m in sent_to(service, COLLEAGUE)] == ["template"]
    assert get_settings().template_name == "lift_alarm"


def test_reminders_follow_the_window_and_fall_back_with_their_heading(template_mode: Service) -> None:
    from datetime import UTC, datetime, timedelta

    service = template_mode
    service.wrote(COLLEAGUE)
    alert = service.send_alert([TECH, COLLEAGUE], escalation={"after_seconds": 60, "max_rounds": 2})
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert service.run_timer(later)["rounds_sent"] == [f"{alert['alert_id']}:1"]
    assert [m.kind for m in sent_to(service, TECH)] == ["template", "template"]
    assert [m.kind for m in sent_to(service, COLLEAGUE)] == ["interactive", "interactive"]
    reminder = sent_to(service, COLLEAGUE)[1]
    assert reminder.text is not None
    assert reminder.text.startswith("REMINDER 1/2")
    fail_131047(service, reminder.message_id)
    service.events()
    fallback = sent_to(service, COLLEAGUE)[2]
    params = body_params(fallback)
    assert params[0] == "REMINDER 1/2"
    # Reminders are not listed per recipient: the first message stays the one shown.
    assert (
        recipient(service, alert["alert_id"], COLLEAGUE)["message_id"] == alert["messages"][1]["message_id"]
    )
    service.tap(fallback.message_id, 0)
    [response] = service.details("Alert Response Received")
    assert (response["matched_by"], response["original_message_id"]) == ("context", fallback.message_id)
