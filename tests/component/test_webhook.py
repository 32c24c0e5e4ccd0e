"""POST/GET /webhook: every tap matched to its exact alert, once (SPEC §6, §7)."""

from __future__ import annotations

import io
import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from lift_alerts.flows.apply_updates import MAX_LOGGED_RESULTS, Report
from local.woosh_standin import signature_header
from tests.support.harness import LOCAL_SECRET, HttpResult, http_event
from tests.support.logs import info_lines, log_lines, request_lines
from tests.support.service import Service

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
TECH = "27824537125"
SECRET = LOCAL_SECRET["webhook_secret"]
OTHER = "27831234567"


def two_lift_alerts(service: Service) -> tuple[dict, dict]:
    lift_a = service.send_alert([TECH], ticket_id="EMG-A", lift_id="LIFT-A")
    lift_b = service.send_alert([TECH], ticket_id="EMG-B", lift_id="LIFT-B")
    return lift_a, lift_b


def message_id(alert: dict, index: int = 0) -> str:
    return str(alert["messages"][index]["message_id"])


def test_multi_emergency_tap_on_second_alert_matches_second_ticket(service: Service) -> None:
    lift_a, lift_b = two_lift_alerts(service)
    result = service.tap(message_id(lift_b), 2, name="John Smith")
    assert result.status == 200
    details = service.details("Alert Response Received")
    assert len(details) == 1
    event = details[0]
    assert event["ticket_id"] == "EMG-B"
    assert event["lift_id"] == "LIFT-B"
    assert event["alert_id"] == lift_b["alert_id"]
    assert event["choice"] == "entrapment"
    assert event["button_title"] == "Entrapment"
    assert event["matched_by"] == "context"
    assert event["first_response"] is True
    assert event["outcome"] == "entrapment"
    assert event["original_message_id"] == message_id(lift_b)
    assert event["responder"] == {"wa_id": TECH, "name": "John Smith"}
    assert event["responded_at"].endswith("Z")
    assert service.get_alert(lift_a["alert_id"]).json()["state"] == "awaiting_response"
    view_b = service.get_alert(lift_b["alert_id"]).json()
    assert view_b["state"] == "answered"
    assert view_b["first_response"]["choice"] == "entrapment"
    assert view_b["responses"] == [view_b["first_response"]]


def test_event_detail_has_exactly_the_documented_fields(service: Service) -> None:
    alert = service.send_alert([TECH])
    service.tap(message_id(alert), 0)
    event = service.events("Alert Response Received")[0]
    assert event["source"] == "lift-alerts"
    assert set(event["detail"]) == {
        "event_id", "alert_id", "ticket_id", "lift_id", "site", "floor", "choice", "button_title",
        "responder", "responded_at", "original_message_id", "first_response", "matched_by", "outcome",
    }  # fmt: skip


def test_two_recipients_tapping_different_buttons(service: Service) -> None:
    alert = service.send_alert([TECH, OTHER])
    service.tap(message_id(alert, 0), 0)  # Test first
    service.tap(message_id(alert, 1), 2)  # Entrapment later
    details = service.details("Alert Response Received")
    assert [(d["choice"], d["first_response"], d["outcome"]) for d in details] == [
        ("test", True, "test"),
        ("entrapment", False, "entrapment"),
    ]
    view = service.get_alert(alert["alert_id"]).json()
    assert view["first_response"]["choice"] == "test"
    assert view["outcome"] == "entrapment"
    assert [r["choice"] for r in view["responses"]] == ["test", "entrapment"]


def test_same_webhook_delivered_three_times_is_processed_once(service: Service) -> None:
    alert = service.send_alert([TECH])
    payload = service.woosh.tap(message_id(alert), 1, post=False)["payload"]
    assert [service.webhook(payload).status for _ in range(3)] == [200, 200, 200]
    assert len(service.details("Alert Response Received")) == 1
    assert len(service.get_alert(alert["alert_id"]).json()["responses"]) == 1


def test_ten_taps_racing_on_one_alert_have_exactly_one_first(service: Service) -> None:
    recipients = [f"2782000{i:04d}" for i in range(10)]
    alert = service.send_alert(recipients)
    payloads = [
        service.woosh.tap(m["message_id"], i % 3, post=False)["payload"]
        for i, m in enumerate(alert["messages"])
    ]
    statuses = service.webhooks_at_once(payloads)
    assert statuses == [200] * 10
    details = service.details("Alert Response Received")
    assert len(details) == 10, sorted(d["event_id"] for d in details)
    assert sum(d["first_response"] for d in details) == 1
    view = service.get_alert(alert["alert_id"]).json()
    assert len(view["responses"]) == 10
    assert view["responses"][0] == view["first_response"]


def test_batch_with_taps_for_two_alerts_and_statuses(service: Service) -> None:
    lift_a, lift_b = two_lift_alerts(service)
    template = json.loads((SAMPLES / "batch_two_entries.json").read_text())
    payload = deepcopy(template)
    first = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    tap_a = service.woosh.tap(message_id(lift_a), 2, post=False)["payload"]["entry"][0]["changes"][0]["value"]
    first["interactive"]["button_reply"]["id"] = tap_a["messages"][0]["interactive"]["button_reply"]["id"]
    first["context"]["id"] = message_id(lift_a)
    statuses = payload["entry"][0]["changes"][1]["value"]["statuses"]
    for status in statuses:
        status["id"] = message_id(lift_a) if status["id"] == "wamid.SENT0001" else message_id(lift_b)
    second = payload["entry"][1]["changes"][0]["value"]["messages"][0]
    tap_b = service.woosh.tap(message_id(lift_b), 0, post=False)["payload"]["entry"][0]["changes"][0]["value"]
    second["interactive"]["button_reply"]["id"] = tap_b["messages"][0]["interactive"]["button_reply"]["id"]
    second["context"]["id"] = message_id(lift_b)

    result = service.webhook(payload)
    assert result.status == 200
    details = service.details("Alert Response Received")
    assert sorted((d["ticket_id"], d["choice"]) for d in details) == [
        ("EMG-A", "entrapment"),
        ("EMG-B", "test"),
    ]
    view_a = service.get_alert(lift_a["alert_id"]).json()
    assert view_a["recipients"][0]["delivery_status"] == "read"  # read, then delivered and sent arrived late
    view_b = service.get_alert(lift_b["alert_id"]).json()
    assert view_b["recipients"][0]["delivery_status"] == "failed"
    failed = service.details("Alert Delivery Failed")
    assert [(f["ticket_id"], f["error"]["code"]) for f in failed] == [("EMG-B", "131047")]


def request_info_lines(log_output: io.StringIO, capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The INFO lines written since the last call: the logger's and the metrics documents'."""
    lines = info_lines(log_output.getvalue(), capfd.readouterr().out)
    log_output.seek(0)
    log_output.truncate()
    return lines


def test_one_info_line_per_post_names_each_taps_alert_and_outcome(
    service: Service, log_output: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    """An operator grepping an alert id finds the POST that recorded its tap, in one line: the
    request's metrics document, which carries what it counted and what became of it."""
    alert = service.send_alert([TECH])
    payload = service.woosh.tap(message_id(alert), 2, post=False)["payload"]
    tap_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    request_info_lines(log_output, capfd)
    for outcome, matched, metric in [
        ("tap_matched_context", {"matched_by": "context"}, "TapMatched"),
        ("tap_duplicate", {}, "TapDuplicate"),
    ]:
        assert service.webhook(payload).status == 200
        (line,) = request_info_lines(log_output, capfd)
        assert line["message"] == "webhook processed"
        assert line["results"] == [
            {"tap_id": tap_id, "alert_id": alert["alert_id"], "outcome": outcome, **matched}
        ]
        assert line["outcomes"] == {outcome: 1}
        assert line["credential"] == "hub_signature"
        assert line[metric] == [1.0]  # one event: the metrics and the summary together
        assert line["function_request_id"]


def test_with_metrics_off_the_summary_is_a_logger_line(
    service: Service,
    log_output: io.StringIO,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """POWERTOOLS_METRICS_DISABLED prints no metrics document: the summary is not lost with it."""
    alert = service.send_alert([TECH])
    request_info_lines(log_output, capfd)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    assert service.tap(message_id(alert), 2).status == 200
    (line,) = request_info_lines(log_output, capfd)
    assert line["message"] == "webhook processed"
    assert line["outcomes"] == {"tap_matched_context": 1}
    assert "_aws" not in line  # not a metrics document:
    assert "location" in line  # the logger wrote it


def test_log_lines_carry_the_request_id_as_correlation_id(
    service: Service, log_output: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    """Both HTTP functions: the API Gateway request id, on every line of that request (the
    webhook's summary line in its metrics document included)."""
    body = {"ticket_id": "EMG-1", "lift_id": "LIFT-A", "recipients": [TECH]}
    send = http_event("POST", "/alerts", body=body)
    assert service.call("send", send).status == 201
    send_lines = log_lines(log_output.getvalue())
    log_output.seek(0)
    log_output.truncate()
    capfd.readouterr()
    raw = json.dumps(service.woosh.tap(service.woosh.sent[0].message_id, 2, post=False)["payload"]).encode()
    tap = http_event(
        "POST", "/webhook", body=raw, headers={"X-Hub-Signature-256": signature_header(raw, SECRET)}
    )
    assert service.call("webhook", tap).status == 200
    printed = capfd.readouterr().out
    tap_lines = [line for line in request_lines(log_output.getvalue(), printed) if "message" in line]
    assert "alert sent" in [line["message"] for line in send_lines]
    assert {line["correlation_id"] for line in send_lines} == {send["requestContext"]["requestId"]}
    assert "webhook processed" in [line["message"] for line in tap_lines]
    assert {line["correlation_id"] for line in tap_lines} == {tap["requestContext"]["requestId"]}
    assert send["requestContext"]["requestId"] != tap["requestContext"]["requestId"]


def test_the_request_line_lists_at_most_max_logged_results() -> None:
    report = Report()
    for index in range(MAX_LOGGED_RESULTS + 5):
        report.add("status_stale", log={"message_id": f"wamid.{index}", "context_id": "not kept"})
    fields = report.log_fields()
    assert fields["results"] == [
        {"message_id": f"wamid.{index}", "outcome": "status_stale"} for index in range(MAX_LOGGED_RESULTS)
    ]
    assert fields["results_omitted"] == 5


def test_tap_without_context_matches_by_button_id(service: Service) -> None:
    _lift_a, lift_b = two_lift_alerts(service)
    service.tap(message_id(lift_b), 1, with_context=False)
    details = service.details("Alert Response Received")
    assert [(d["ticket_id"], d["choice"], d["matched_by"]) for d in details] == [
        ("EMG-B", "maintenance", "button")
    ]


def test_template_quick_reply_tap(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alert")
    get_settings.cache_clear()
    _lift_a, lift_b = two_lift_alerts(service)
    payload = service.woosh.tap(message_id(lift_b), 2, post=False)["payload"]
    assert payload["entry"][0]["changes"][0]["value"]["messages"][0]["type"] == "button"
    service.webhook(payload)
    details = service.details("Alert Response Received")
    assert [(d["ticket_id"], d["choice"], d["matched_by"]) for d in details] == [
        ("EMG-B", "entrapment", "context")
    ]


def test_tap_with_business_scoped_user_id_only(service: Service) -> None:
    alert = service.send_alert([TECH])
    service.tap(message_id(alert), 2, user_id_only=True, name="John Smith")
    responder = service.details("Alert Response Received")[0]["responder"]
    assert responder["wa_id"] is None
    assert responder["name"] == "John Smith"
    assert responder["user_id"] == f"ZA.{TECH}"


def test_context_wins_when_it_names_another_alert_than_the_button(service: Service) -> None:
    lift_a, lift_b = two_lift_alerts(service)
    payload = service.woosh.tap(message_id(lift_a), 2, post=False)["payload"]
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["context"]["id"] = message_id(lift_b)
    service.webhook(payload)
    details = service.details("Alert Response Received")
    assert [(d["ticket_id"], d["matched_by"]) for d in details] == [("EMG-B", "context")]


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
def test_bad_signature_is_401_and_nothing_is_written(service: Service, signature: str | None) -> None:
    alert = service.send_alert([TECH])
    before = service.ddb.scan(TableName=service.table)["Items"]
    payload = service.woosh.tap(message_id(alert), 2, post=False)["payload"]
    headers = {"X-Hub-Signature-256": signature} if signature else {}
    assert service.webhook(payload, sign=False, headers=headers).status == 401
    assert service.webhook(payload, secret="not-the-secret").status == 401
    assert service.ddb.scan(TableName=service.table)["Items"] == before
    assert service.details("Alert Response Received") == []


def test_signature_over_base64_body_with_any_header_case(service: Service) -> None:
    alert = service.send_alert([TECH])
    payload = service.woosh.tap(message_id(alert), 2, post=False)["payload"]
    raw = json.dumps(payload).encode()
    from local.woosh_standin import signature_header

    headers = {"x-HUB-signature-256": signature_header(raw, "test-webhook-secret")}
    event = http_event("POST", "/webhook", body=raw, headers=headers, base64_body=True)
    assert service.call("webhook", event).status == 200
    assert len(service.details("Alert Response Received")) == 1


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"entry": "nope"}', b'"x"', b"{}"])
def test_malformed_bodies_are_400_never_500(service: Service, raw: bytes) -> None:
    assert service.webhook(raw).status == 400


def test_body_over_5_mib_is_413(service: Service) -> None:
    assert service.webhook(b" " * (5 * 1024 * 1024 + 1)).status == 413


def test_unknown_taps_other_types_and_other_fields_are_200_and_publish_nothing(service: Service) -> None:
    service.send_alert([TECH])
    for name in ["other_field_ignored.json", "tap_interactive.json", "tap_without_context.json"]:
        assert service.webhook(json.loads((SAMPLES / name).read_text())).status == 200
    assert service.events() == []


def test_statuses_never_move_backwards_and_failed_is_final(service: Service) -> None:
    alert = service.send_alert([TECH])
    mid = message_id(alert)
    for status in ["read", "delivered", "sent"]:
        service.status(mid, status)
    assert service.get_alert(alert["alert_id"]).json()["recipients"][0]["delivery_status"] == "read"
    service.status(mid, "failed", error_code=131026, error_title="Message undeliverable")
    service.status(mid, "failed", error_code=131026)
    service.status(mid, "delivered")
    view = service.get_alert(alert["alert_id"]).json()
    assert view["recipients"][0]["delivery_status"] == "failed"
    assert view["recipients"][0]["error"]["code"] == "131026"
    failed = service.details("Alert Delivery Failed")
    assert [(f["event_id"], f["message_id"], f["recipient"]) for f in failed] == [
        (f"{mid}:failed", mid, TECH)
    ]


def test_woosh_status_callback_is_a_status(service: Service) -> None:
    alert = service.send_alert([TECH])
    assert (
        service.webhook(
            service.woosh.woosh_status(message_id(alert), "delivered", post=False)["payload"]
        ).status
        == 200
    )
    assert service.get_alert(alert["alert_id"]).json()["recipients"][0]["delivery_status"] == "delivered"


def test_failed_status_before_the_mapping_is_published_once_the_mapping_is_stored(service: Service) -> None:
    from lift_alerts.platform.config import get_settings
    from lift_alerts.store.repositories import Repositories

    alert = service.send_alert([TECH])
    repos = Repositories.of(service.table)
    early = "wamid.EARLY0001"
    payload = service.woosh.status(message_id(alert), "failed", post=False)["payload"]
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = early
    service.webhook(payload)
    assert service.details("Alert Delivery Failed") == []
    # The send stores the mapping after the status: the failure is published then.
    from lift_alerts.domain.alert_facts import failure_record

    message = repos.messages.store_message(
        early, alert_id=alert["alert_id"], recipient=TECH, round_no=0, expires_at=2**31
    )
    assert message["delivery_status"] == "failed"
    key, record = failure_record(alert["alert_id"], 0, TECH, early, message["delivery_error"])
    repos.alerts.record_failure(alert["alert_id"], key, record)
    assert [f["message_id"] for f in service.details("Alert Delivery Failed")] == [early]
    assert get_settings().alerts_table == service.table


def handshake(service: Service, verify_token: str) -> HttpResult:
    query = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": "42"}
    return service.call("webhook", http_event("GET", "/webhook", query=query))


def test_handshake(service: Service) -> None:
    ok = handshake(service, "test-verify-token")
    assert (ok.status, ok.text) == (200, "42")
    assert ok.headers["Content-Type"].startswith("text/plain")
    bad = handshake(service, "wrong")
    assert bad.status == 403
    assert service.call("webhook", http_event("GET", "/webhook")).status == 403
    assert service.call("webhook", http_event("PUT", "/webhook")).status == 405
