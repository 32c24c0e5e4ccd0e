"""The Bridge's own payloads through the webhook: its status wrapper, duplicates across forms,
and template quick replies whose payload is just the label (SPEC §6)."""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from tests.support.service import Service

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
TECH = "27824537125"
OTHER = "27831234567"


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / name).read_text()))


def message_id(alert: dict[str, Any], index: int = 0) -> str:
    return str(alert["messages"][index]["message_id"])


def wrapper(mid: str, status: str, *, code: int | None = None, title: str = "Re-engagement message") -> Any:
    """The Bridge's status dispatch for one of our messages, from the sample."""
    body = deepcopy(sample("woosh_status_wrapper.json"))
    body["wa_id"] = mid
    body["data"].update(id=mid, status=status, recipient_id=TECH)
    if code is None:
        del body["data"]["errors"]
    else:
        body["data"]["errors"][0].update(code=code, title=title, message=title)
    return body


def meta_status(service: Service, mid: str, status: str, **kwargs: Any) -> Any:
    return service.woosh.status(mid, status, post=False, **kwargs)["payload"]


def recipient_line(service: Service, alert: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return dict(service.get_alert(alert["alert_id"]).json()["recipients"][index])


def stored_message(service: Service, mid: str) -> dict[str, Any]:
    from lift_alerts.store.messages import MessageRepository

    message = MessageRepository(service.table).find_message(mid)
    assert message is not None
    return message


# -- the Bridge's status wrapper ----------------------------------------------------------------


def test_wrapper_failed_131047_is_a_published_delivery_failure(service: Service) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    result = service.webhook(wrapper(mid, "failed", code=131047), headers={"X-Woosh-Event": "message.status"})
    assert result.status == 200
    assert result.json()["outcomes"] == {"status_recorded": 1}
    line = recipient_line(service, alert)
    assert line["delivery_status"] == "failed"
    assert line["error"] == {"code": "131047", "title": "Re-engagement message"}
    (failed,) = service.details("Alert Delivery Failed")
    assert (failed["alert_id"], failed["message_id"], failed["recipient"]) == (alert["alert_id"], mid, TECH)
    assert failed["error"]["code"] == "131047"


def test_wrapper_sample_as_received_is_accepted(service: Service) -> None:
    # The sample names a message nobody sent: stored as an early status, nothing published.
    alert = service.send_alert([TECH])
    result = service.webhook(sample("woosh_status_wrapper.json"))
    assert result.status == 200
    assert result.json()["outcomes"] == {"status_recorded": 1}
    assert service.details("Alert Delivery Failed") == []
    assert recipient_line(service, alert)["delivery_status"] == "accepted"


def test_wrapper_delivered_then_read_move_the_status_forward(service: Service) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    service.webhook(wrapper(mid, "sent"))
    assert recipient_line(service, alert)["delivery_status"] == "sent"
    service.webhook(wrapper(mid, "delivered"))
    assert recipient_line(service, alert)["delivery_status"] == "delivered"
    service.webhook(wrapper(mid, "read"))
    assert recipient_line(service, alert)["delivery_status"] == "read"
    service.webhook(wrapper(mid, "delivered"))  # late: never backwards
    assert recipient_line(service, alert)["delivery_status"] == "read"
    assert service.details("Alert Delivery Failed") == []


@pytest.mark.parametrize("status", ["deleted", "played", "warning"])
def test_deleted_played_and_others_never_change_the_status(service: Service, status: str) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    service.webhook(wrapper(mid, "delivered"))
    for body in (wrapper(mid, status), meta_status(service, mid, status)):
        result = service.webhook(body)
        assert result.status == 200
        assert result.json()["outcomes"] == {"ignored": 1}
    assert recipient_line(service, alert)["delivery_status"] == "delivered"
    assert stored_message(service, mid)["delivery_status"] == "delivered"


def test_wrapper_data_id_wins_over_top_level_wa_id(service: Service) -> None:
    alert = service.send_alert([TECH, OTHER])
    body = wrapper(message_id(alert, 1), "read")
    body["wa_id"] = message_id(alert, 0)
    service.webhook(body)
    assert recipient_line(service, alert, 0)["delivery_status"] == "accepted"
    assert recipient_line(service, alert, 1)["delivery_status"] == "read"


def test_wrapper_without_data_id_uses_wa_id(service: Service) -> None:
    alert = service.send_alert([TECH])
    body = wrapper(message_id(alert), "delivered")
    del body["data"]["id"]
    assert service.webhook(body).json()["outcomes"] == {"status_recorded": 1}
    assert recipient_line(service, alert)["delivery_status"] == "delivered"


def test_wrapper_for_an_unknown_message_changes_no_alert(service: Service) -> None:
    alert = service.send_alert([TECH])
    before = service.stored_alert(alert["alert_id"])
    result = service.webhook(wrapper("wamid.NOBODYSENTTHIS", "failed", code=131026))
    assert result.status == 200
    assert service.details("Alert Delivery Failed") == []
    assert service.stored_alert(alert["alert_id"]) == before
    assert recipient_line(service, alert)["delivery_status"] == "accepted"


def test_older_simplified_form_still_works(service: Service) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    older = sample("woosh_status_callback.json") | {"wa_id": mid, "to": TECH}
    assert service.webhook(older).json()["outcomes"] == {"status_recorded": 1}
    assert recipient_line(service, alert)["delivery_status"] == "delivered"
    failed = older | {"status": "failed", "timestamp": "2025-01-15T10:31:00Z"}
    assert service.webhook(failed).status == 200
    assert recipient_line(service, alert)["delivery_status"] == "failed"
    assert [f["message_id"] for f in service.details("Alert Delivery Failed")] == [mid]


@pytest.mark.parametrize(
    "body", [{"type": "message.status"}, {"data": {"id": "wamid.X", "status": "read"}}, {"tenant_id": "t"}]
)
def test_neither_meta_nor_bridge_is_400(service: Service, body: Any) -> None:
    assert service.webhook(body).status == 400


# -- the same status in Meta's payload and in the wrapper: processed once ---------------------------


def assert_one_failure(
    service: Service, alert: dict[str, Any], mid: str, code: str, title: str = "Re-engagement message"
) -> None:
    """One stored status, one failure record (the first one received), one published event."""
    (failed,) = service.details("Alert Delivery Failed")
    assert (failed["message_id"], failed["error"]) == (mid, {"code": code, "title": title})
    failures = service.stored_alert(alert["alert_id"])["failures"]
    assert list(failures) == [mid]
    assert failures[mid]["error"] == {"code": code, "title": title}
    message = stored_message(service, mid)
    assert (message["delivery_status"], message["delivery_error"]) == (
        "failed",
        {"code": code, "title": title},
    )
    line = recipient_line(service, alert)
    assert (line["delivery_status"], line["error"]) == ("failed", {"code": code, "title": title})


def delivery_failures_logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.getMessage() == "delivery failed" for r in caplog.records)


@pytest.mark.parametrize("meta_first", [True, False], ids=["meta-then-wrapper", "wrapper-then-meta"])
def test_failed_in_both_forms_in_two_posts_is_processed_once(
    service: Service, meta_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lift-alerts")
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    # The two forms word the error differently: the first received is the one kept.
    meta = meta_status(service, mid, "failed", error_code=131047, error_title="Re-engagement message")
    bridge = wrapper(mid, "failed", code=131047, title="Re-engagement message (Bridge)")
    first, second = (meta, bridge) if meta_first else (bridge, meta)
    assert service.webhook(first).json()["outcomes"] == {"status_recorded": 1}
    assert service.webhook(second).json()["outcomes"] == {"status_stale": 1}
    title = "Re-engagement message" if meta_first else "Re-engagement message (Bridge)"
    assert_one_failure(service, alert, mid, "131047", title)
    # Both senders retry too: still once.
    assert service.webhook(first).status == service.webhook(second).status == 200
    assert_one_failure(service, alert, mid, "131047", title)
    assert delivery_failures_logged(caplog) == 1  # and counted once (DeliveryFailed)


def test_failed_twice_in_one_post_is_processed_once(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lift-alerts")
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    body = meta_status(service, mid, "failed", error_code=131047, error_title="Re-engagement message")
    body["entry"].append(deepcopy(body["entry"][0]))  # the same status in a second entry
    result = service.webhook(body)
    assert result.json()["outcomes"] == {"status_recorded": 1, "status_stale": 1}
    assert_one_failure(service, alert, mid, "131047")
    assert delivery_failures_logged(caplog) == 1


def test_failed_in_both_forms_at_the_same_moment_is_processed_once(service: Service) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    bodies = [
        meta_status(service, mid, "failed", error_code=131047, error_title="Re-engagement message"),
        wrapper(mid, "failed", code=131047),
    ]
    statuses = service.webhooks_at_once(bodies)
    assert statuses == [200, 200]
    assert_one_failure(service, alert, mid, "131047")


@pytest.mark.parametrize("meta_first", [True, False], ids=["meta-then-wrapper", "wrapper-then-meta"])
def test_delivered_in_both_forms_is_stored_once(service: Service, meta_first: bool) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    meta, bridge = meta_status(service, mid, "delivered", timestamp=1759315000), wrapper(mid, "delivered")
    bridge["data"]["timestamp"] = "1759315000"
    first, second = (meta, bridge) if meta_first else (bridge, meta)
    assert service.webhook(first).json()["outcomes"] == {"status_recorded": 1}
    assert service.webhook(second).json()["outcomes"] == {"status_stale": 1}
    message = stored_message(service, mid)
    assert (message["delivery_status"], message["status_at"]) == ("delivered", "2025-10-01T10:36:40Z")
    assert service.details("Alert Delivery Failed") == []


# -- template quick replies with static payloads: the label ------------------------------------------


@pytest.fixture
def template_service(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """Alerts sent as the approved template, whose quick replies may carry static payloads."""
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alert")
    get_settings.cache_clear()
    return service


def static_tap(
    tap_id: str, label: str, context_id: str | None, *, text: str | None = None, sender: str = TECH
) -> Any:
    body = deepcopy(sample("tap_template_static_payload.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = sender
    message = value["messages"][0]
    message.update({"id": tap_id, "from": sender})
    message["button"] = {"payload": label, "text": label if text is None else text}
    if context_id is None:
        del message["context"]
    else:
        message["context"]["id"] = context_id
    return body


def responses(service: Service, alert: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service.stored_alert(alert["alert_id"])["responses"])


def test_static_payload_tap_lands_on_the_alert_its_message_carried(template_service: Service) -> None:
    service = template_service
    lift_a = service.send_alert([TECH], ticket_id="EMG-A", lift_id="LIFT-A")
    lift_b = service.send_alert([TECH], ticket_id="EMG-B", lift_id="LIFT-B")
    assert service.woosh.message(message_id(lift_b)).kind == "template"

    result = service.webhook(static_tap("wamid.TAPB", "Entrapment", message_id(lift_b)))
    assert result.status == 200
    assert result.json()["outcomes"] == {"tap_matched_context": 1}
    assert responses(service, lift_a) == []
    (response,) = responses(service, lift_b)
    assert (response["choice"], response["matched_by"], response["button_title"]) == (
        "entrapment",
        "context",
        "Entrapment",
    )
    # And on the first alert's message it lands on the first alert: no "latest alert" guess.
    service.webhook(static_tap("wamid.TAPA", "Test", message_id(lift_a)))
    assert [r["choice"] for r in responses(service, lift_a)] == ["test"]
    assert [r["event_id"] for r in responses(service, lift_b)] == ["wamid.TAPB"]

    details = service.details("Alert Response Received")
    assert [(d["event_id"], d["ticket_id"], d["choice"], d["matched_by"]) for d in details] == [
        ("wamid.TAPB", "EMG-B", "entrapment", "context"),
        ("wamid.TAPA", "EMG-A", "test", "context"),
    ]
    assert details[0]["original_message_id"] == message_id(lift_b)
    assert details[0]["first_response"] is True
    view_b = service.get_alert(lift_b["alert_id"]).json()
    assert (view_b["state"], view_b["outcome"]) == ("answered", "entrapment")


@pytest.mark.parametrize("context", [None, "wamid.NOTOURS", "early-status"])
def test_static_payload_tap_without_a_known_context_is_unmatched(
    template_service: Service,
    context: str | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = template_service
    caplog.set_level(logging.INFO, logger="lift-alerts")
    lift_a = service.send_alert([TECH], ticket_id="EMG-A", lift_id="LIFT-A")
    lift_b = service.send_alert([TECH], ticket_id="EMG-B", lift_id="LIFT-B")
    if context == "early-status":
        # An id we hold only a status for (no mapping to an alert): still no reference.
        context = "wamid.EARLY0001"
        service.webhook(wrapper(context, "delivered"))
    capsys.readouterr()

    result = service.webhook(static_tap("wamid.TAPX", "Entrapment", context))
    assert result.status == 200
    assert result.json()["outcomes"] == {"tap_unmatched_no_alert_reference": 1}
    assert responses(service, lift_a) == responses(service, lift_b) == []
    assert service.details("Alert Response Received") == []
    for alert in (lift_a, lift_b):
        assert service.get_alert(alert["alert_id"]).json()["state"] == "awaiting_response"
    # Logged with its reason, and counted.
    (record,) = [r for r in caplog.records if r.getMessage() == "tap matched no alert"]
    assert record.__dict__["reason"] == "no_alert_reference"
    assert "TapUnmatched" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("payload", "text", "choice"),
    [
        ("  eNTRAPment ", "  eNTRAPment ", "entrapment"),
        ("MAINTENANCE", "Maintenance ", "maintenance"),
        ("\ttest\n", "Test it", "test"),
    ],
)
def test_static_payload_label_in_any_case_with_spaces(
    template_service: Service, payload: str, text: str, choice: str
) -> None:
    service = template_service
    alert = service.send_alert([TECH])
    result = service.webhook(static_tap("wamid.TAPODD", payload, message_id(alert), text=text))
    assert result.json()["outcomes"] == {"tap_matched_context": 1}
    (response,) = responses(service, alert)
    assert response["choice"] == choice  # from the payload, never from the text
    assert response["button_title"] == text  # echoed as received
    (event,) = service.details("Alert Response Received")
    assert (event["choice"], event["button_title"]) == (choice, text)


@pytest.mark.parametrize("label", ["Fire", "Tests", "Entrapped", "Test Maintenance", ""])
def test_static_payload_that_is_not_one_of_the_three_is_unmatched(
    template_service: Service, label: str
) -> None:
    service = template_service
    alert = service.send_alert([TECH])
    result = service.webhook(static_tap("wamid.TAPBAD", label, message_id(alert)))
    assert result.status == 200
    assert result.json()["outcomes"] == {"tap_unmatched_unknown_button": 1}
    assert responses(service, alert) == []
    assert service.details("Alert Response Received") == []


def test_static_payload_tap_delivered_twice_is_recorded_once(template_service: Service) -> None:
    service = template_service
    alert = service.send_alert([TECH])
    body = static_tap("wamid.TAPTWICE", "Maintenance", message_id(alert))
    assert service.webhook(body).json()["outcomes"] == {"tap_matched_context": 1}
    assert service.webhook(body).json()["outcomes"] == {"tap_duplicate": 1}
    assert [r["event_id"] for r in responses(service, alert)] == ["wamid.TAPTWICE"]
    assert len(service.details("Alert Response Received")) == 1


def test_static_payload_taps_in_one_post_are_recorded_in_order(template_service: Service) -> None:
    # One person changing their answer several times, all in one batch: recorded as sent.
    service = template_service
    alert = service.send_alert([TECH])
    labels = ["Test", "Maintenance", "Entrapment"] * 4
    body = static_tap("wamid.TAP00", labels[0], message_id(alert))
    messages = body["entry"][0]["changes"][0]["value"]["messages"]
    template = messages[0]
    messages[:] = [
        {**deepcopy(template), "id": f"wamid.TAP{n:02d}", "button": {"payload": label, "text": label}}
        for n, label in enumerate(labels)
    ]
    result = service.webhook(body)
    assert result.json()["outcomes"] == {"tap_matched_context": len(labels)}
    recorded = responses(service, alert)
    assert [r["event_id"] for r in recorded] == [f"wamid.TAP{n:02d}" for n in range(len(labels))]
    assert recorded[0]["choice"] == "test"
