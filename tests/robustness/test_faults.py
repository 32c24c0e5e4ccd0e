"""Fault injection (issue 5 §1): botocore hooks over moto, and a Woosh stand-in that misbehaves."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from lift_alerts.platform import aws
from lift_alerts.platform.config import reset_caches
from tests.robustness.support import (
    assert_taps_published_once,
    count_items,
    inject,
    on_alert,
    on_message,
    parked_messages,
    response_events,
    run_parked,
)
from tests.support.harness import REGION
from tests.support.service import Service

pytestmark = pytest.mark.robustness

DDB_ERRORS = ["ProvisionedThroughputExceededException", "InternalServerError", "ThrottlingException"]
FAULTS = {"injected": 0}


def _tap_payload(service: Service, message_id: str, index: int, **kwargs: Any) -> dict[str, Any]:
    return service.woosh.tap(message_id, index, post=False, **kwargs)["payload"]


def _tap_id(payload: dict[str, Any]) -> str:
    return str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


# -- the webhook path: DynamoDB ------------------------------------------------------------------


@pytest.mark.parametrize("code", DDB_ERRORS)
def test_table_failing_before_the_conditional_update_parks_and_publishes_once(
    service: Service, code: str
) -> None:
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    payload = _tap_payload(service, message_id, 2)
    with inject("dynamodb", "UpdateItem", code, match=on_alert) as fault:
        result = service.webhook(payload)
    FAULTS["injected"] += fault.fired
    assert fault.fired >= 1
    assert result.status == 200, result.text
    assert result.json()["parked"] == 1
    assert service.stored_alert(sent["alert_id"])["responses"] == []
    assert response_events(service) == []

    answer = run_parked(service)
    assert answer["records"] == 1
    assert answer["batchItemFailures"] == []
    # WhatsApp delivers the same tap again anyway: processed once.
    again = service.webhook(payload)
    assert again.json()["outcomes"] == {"tap_duplicate": 1}
    assert_taps_published_once(service, [_tap_id(payload)])
    alert = service.stored_alert(sent["alert_id"])
    assert [r["event_id"] for r in alert["responses"]] == [_tap_id(payload)]
    assert alert["first_response"]["event_id"] == _tap_id(payload)


@pytest.mark.parametrize("code", DDB_ERRORS[:2])
def test_answer_lost_after_the_conditional_update_is_not_doubled(service: Service, code: str) -> None:
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    payload = _tap_payload(service, message_id, 1)
    with inject("dynamodb", "UpdateItem", code, when="after", times=1, match=on_alert) as fault:
        result = service.webhook(payload)
    FAULTS["injected"] += fault.fired
    assert fault.fired == 1
    assert result.status == 200
    # The write happened although the caller saw an error; the replay must see a duplicate.
    assert len(service.stored_alert(sent["alert_id"])["responses"]) == 1
    answer = run_parked(service)
    assert answer["batchItemFailures"] == []
    assert service.webhook(payload).json()["outcomes"] == {"tap_duplicate": 1}
    alert = service.stored_alert(sent["alert_id"])
    assert len(alert["responses"]) == 1
    assert_taps_published_once(service, [_tap_id(payload)])


def test_fallback_lookup_failing_parks_the_tap(service: Service) -> None:
    """The tap's context names no message of its button's alert: the GetItem fallback fails."""
    first = service.send_alert(["+27824537125"])
    second = service.send_alert(["+27831234567"])
    payload = _tap_payload(service, first["messages"][0]["message_id"], 0)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["context"]["id"] = second["messages"][0]["message_id"]
    with inject("dynamodb", "GetItem", "InternalServerError", match=on_message) as fault:
        result = service.webhook(payload)
    FAULTS["injected"] += fault.fired
    assert fault.fired >= 1
    assert result.json()["parked"] == 1
    run_parked(service)
    # Matched by context.id: the second alert owns the message.
    assert [r["event_id"] for r in service.stored_alert(second["alert_id"])["responses"]] == [message["id"]]
    assert service.stored_alert(first["alert_id"])["responses"] == []
    assert_taps_published_once(service, [message["id"]])


def test_status_write_failing_is_parked_and_replayed(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    with inject("dynamodb", "UpdateItem", "InternalServerError", match=on_message) as fault:
        result = service.status(message_id, "failed")
    FAULTS["injected"] += fault.fired
    assert result.status == 200
    assert result.json()["parked"] == 1
    run_parked(service)
    view = service.get_alert(sent["alert_id"]).json()
    assert view["recipients"][0]["delivery_status"] == "failed"
    failures = service.details("Alert Delivery Failed")
    assert [f["message_id"] for f in failures] == [message_id]
    # Delivered again: still one failure event.
    service.status(message_id, "failed")
    assert len(service.details("Alert Delivery Failed")) == 1


def test_one_failing_group_does_not_stop_the_others(service: Service) -> None:
    """Faults on one alert park its taps only; another alert in the same POST is processed."""
    a = service.send_alert(["+27824537125"])
    b = service.send_alert(["+27831234567"])
    tap_a = _tap_payload(service, a["messages"][0]["message_id"], 2)
    tap_b = _tap_payload(service, b["messages"][0]["message_id"], 1)
    merged = json.loads(json.dumps(tap_a))
    merged["entry"] += tap_b["entry"]

    def only_a(params: dict[str, Any]) -> bool:
        return params.get("Key", {}).get("pk", {}).get("S") == f"alert#{a['alert_id']}"

    with inject("dynamodb", "UpdateItem", "InternalServerError", match=only_a) as fault:
        result = service.webhook(merged)
    FAULTS["injected"] += fault.fired
    body = result.json()
    assert result.status == 200
    assert body["parked"] == 1
    assert body["outcomes"] == {"tap_matched_context": 1}
    run_parked(service)
    assert_taps_published_once(service, [_tap_id(tap_a), _tap_id(tap_b)])


# -- the webhook path: secret and parking ----------------------------------------------------------


def test_secret_fetch_failing_answers_503_and_writes_nothing(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    payload = _tap_payload(service, sent["messages"][0]["message_id"], 2)
    reset_caches()  # forget the cached secret: the next request must read it
    before = count_items(service)
    with inject("secretsmanager", "GetSecretValue", "InternalServiceError") as fault:
        result = service.webhook(payload)
    FAULTS["injected"] += fault.fired
    assert fault.fired >= 1
    assert result.status == 503
    assert count_items(service) == before
    assert service.stored_alert(sent["alert_id"])["responses"] == []
    assert parked_messages(service) == []
    # The sender retries once the secret can be read again.
    assert service.webhook(payload).json()["outcomes"] == {"tap_matched_context": 1}
    assert_taps_published_once(service, [_tap_id(payload)])


def test_parking_failing_answers_503_and_the_retry_works(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    payload = _tap_payload(service, sent["messages"][0]["message_id"], 0)
    with (
        inject("dynamodb", "UpdateItem", "InternalServerError", match=on_alert) as table,
        inject("sqs", "SendMessageBatch", "AWS.SimpleQueueService.ServiceUnavailable") as queue,
    ):
        result = service.webhook(payload)
    FAULTS["injected"] += table.fired + queue.fired
    assert result.status == 503
    assert parked_messages(service) == []
    # Woosh retries (after 1, 2 and 4 seconds): AWS is back on the second retry.
    with inject("dynamodb", "UpdateItem", "InternalServerError", match=on_alert, times=1) as again:
        assert service.webhook(payload).json()["parked"] == 1
    FAULTS["injected"] += again.fired
    assert service.webhook(payload).json()["outcomes"] == {"tap_matched_context": 1}
    run_parked(service)  # the parked copy is now a duplicate
    alert = service.stored_alert(sent["alert_id"])
    assert [r["event_id"] for r in alert["responses"]] == [_tap_id(payload)]
    assert_taps_published_once(service, [_tap_id(payload)])


def test_parking_partly_refused_answers_503(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    payload = _tap_payload(service, sent["messages"][0]["message_id"], 0)
    sqs = aws.client("sqs")

    def refuse(**kwargs: Any) -> Any:
        body = json.loads(kwargs["params"]["body"])
        failed = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in body["Entries"]]
        return SimpleNamespace(status_code=200, headers={}), {"Successful": [], "Failed": failed}

    sqs.meta.events.register("before-call.sqs.SendMessageBatch", refuse, unique_id="refuse")
    try:
        with inject("dynamodb", "UpdateItem", "InternalServerError", match=on_alert):
            result = service.webhook(payload)
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", unique_id="refuse")
    FAULTS["injected"] += 2
    assert result.status == 503
    assert service.webhook(payload).json()["outcomes"] == {"tap_matched_context": 1}
    assert_taps_published_once(service, [_tap_id(payload)])


# -- the publisher: PutEvents -------------------------------------------------------------------


def test_put_events_failing_wholly_is_retried_from_the_stream(service: Service) -> None:
    sent = service.send_alert(["+27824537125", "+27831234567"])
    ids = []
    for line in sent["messages"]:
        payload = _tap_payload(service, line["message_id"], 2)
        assert service.webhook(payload).status == 200
        ids.append(_tap_id(payload))
    with inject("events", "PutEvents", "InternalException", times=3) as fault:
        service.publish()
    FAULTS["injected"] += fault.fired
    assert fault.fired == 3
    assert_taps_published_once(service, ids)
    events = response_events(service)
    assert sorted(e["first_response"] for e in events) == [False, True]


def _partly_failing_put_events(fail_first: int) -> Any:
    """A before-call hook: the bus takes every entry but the first `fail_first` (once)."""
    bus = boto3.client("events", region_name=REGION)
    state = {"left": fail_first}

    def hook(**kwargs: Any) -> Any:
        entries = json.loads(kwargs["params"]["body"])["Entries"]
        results: list[dict[str, Any]] = []
        for entry in entries:
            if state["left"] > 0:
                state["left"] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
                continue
            taken = bus.put_events(Entries=[entry])
            results.append(taken["Entries"][0])
        failed = sum(1 for r in results if "ErrorCode" in r)
        return SimpleNamespace(status_code=200, headers={}), {"FailedEntryCount": failed, "Entries": results}

    return hook


def test_put_events_failing_partly_republishes_only_under_the_same_ids(service: Service) -> None:
    sent = service.send_alert(["+27824537125", "+27831234567", "+27841234567"])
    ids = []
    for line in sent["messages"]:
        payload = _tap_payload(service, line["message_id"], 1)
        service.webhook(payload)
        ids.append(_tap_id(payload))
    _publish_while_put_events_fails_partly(service)
    events = response_events(service)
    # Every tap reached the bus; a re-delivered record may publish again only under its own id.
    assert sorted({e["event_id"] for e in events}) == sorted(ids)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_id.setdefault(event["event_id"], []).append(event)
    for copies in by_id.values():
        assert all(copy == copies[0] for copy in copies)
    assert sum(1 for i in ids if by_id[i][0]["first_response"]) == 1


def _publish_while_put_events_fails_partly(service: Service) -> None:
    """Publish with every PutEvents call refusing one of its entries (then the fault is lifted)."""
    client = aws.client("events")
    client.meta.events.register(
        "before-call.eventbridge.PutEvents", _partly_failing_put_events(1), unique_id="partly"
    )
    try:
        service.publish()
    finally:
        client.meta.events.unregister("before-call.eventbridge.PutEvents", unique_id="partly")
    FAULTS["injected"] += 1


def test_put_events_failing_partly_on_a_single_tap_publishes_it_once(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    payload = _tap_payload(service, sent["messages"][0]["message_id"], 2)
    service.webhook(payload)
    _publish_while_put_events_fails_partly(service)
    assert_taps_published_once(service, [_tap_id(payload)])


# -- the send path: Woosh misbehaving ---------------------------------------------------------


@pytest.fixture
def quick_sends(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    monkeypatch.setenv("SEND_DEADLINE_MS", "3000")
    reset_caches()
    return service


def post_with_second_recipient_failing(service: Service, ticket_id: str, **fault: Any) -> dict[str, Any]:
    """POST an alert to two people while Woosh answers the second with `fault`; the first is
    accepted whatever happens to the second. Returns the POST's answer."""
    service.woosh.fail_next("27831234567", **fault)
    result = service.post_alert(
        {"ticket_id": ticket_id, "lift_id": "LIFT-A", "recipients": ["+27824537125", "+27831234567"]}
    )
    FAULTS["injected"] += 1
    assert result.status == 201, result.text
    answer: dict[str, Any] = result.json()
    assert {line["to"]: line["status"] for line in answer["messages"]}["27824537125"] == "accepted"
    return answer


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"error": "invalid_phone"}, "invalid_phone"),
        ({"error": "invalid_phone", "status": 200}, "invalid_phone"),  # ok:false with HTTP 200
        ({"error": "server_error", "times": 6}, "server_error"),
        ({"error": None, "raw_body": "<html>oops", "status": 200}, "bad_response"),
        ({"error": None, "raw_body": '{"ok": true', "status": 200}, "bad_response"),
        ({"error": None, "delay": 4.0}, "timeout"),
    ],
)
def test_woosh_failures_are_per_recipient(quick_sends: Service, fault: dict[str, Any], code: str) -> None:
    service = quick_sends
    answer = post_with_second_recipient_failing(service, "EMG-F", **fault)
    lines = {line["to"]: line for line in answer["messages"]}
    assert lines["27831234567"]["status"] == "failed"
    assert lines["27831234567"]["message_id"] is None
    assert lines["27831234567"]["error"]["code"] == code
    assert isinstance(lines["27831234567"]["error"]["title"], str)
    failures = service.details("Alert Delivery Failed")
    assert [(f["recipient"], f["error"]["code"]) for f in failures] == [("27831234567", code)]


def test_a_recipient_still_refused_for_rate_at_the_deadline_is_queued_not_failed(
    quick_sends: Service,
) -> None:
    """SPEC §11: a message the Bridge refused for rate until the POST's deadline was never
    sent; it is `queued` and goes when the limits allow, never reported as a failed delivery."""
    service = quick_sends
    answer = post_with_second_recipient_failing(service, "EMG-Q", error="rate_limited", times=6)
    lines = {line["to"]: line for line in answer["messages"]}
    assert lines["27831234567"]["status"] == "queued"
    assert lines["27831234567"]["message_id"] is None
    assert service.details("Alert Delivery Failed") == []
    view = service.get_alert(answer["alert_id"]).json()
    assert {r["to"]: r["delivery_status"] for r in view["recipients"]}["27831234567"] == "queued"


def test_woosh_transient_errors_are_retried_and_accepted(quick_sends: Service) -> None:
    service = quick_sends
    service.woosh.fail_next(error="server_error", times=1)
    result = service.post_alert({"ticket_id": "EMG-R", "lift_id": "LIFT-A", "recipients": ["+27824537125"]})
    FAULTS["injected"] += 1
    assert result.status == 201
    assert result.json()["messages"][0]["status"] == "accepted"
    assert len(service.woosh.accepted()) == 1


def test_no_recipient_accepted_answers_502_with_the_same_body(quick_sends: Service) -> None:
    service = quick_sends
    service.woosh.fail_next(error="invalid_phone", times=2)
    result = service.post_alert(
        {"ticket_id": "EMG-5", "lift_id": "LIFT-A", "recipients": ["+27824537125", "+27831234567"]}
    )
    FAULTS["injected"] += 2
    assert result.status == 502
    body = result.json()
    assert {line["status"] for line in body["messages"]} == {"failed"}
    assert body["alert_id"]
    assert body["ticket_id"] == "EMG-5"
    assert len(service.details("Alert Delivery Failed")) == 2


# -- POST /alerts retried with the same Idempotency-Key ----------------------------------------

BODY = {"ticket_id": "EMG-I", "lift_id": "LIFT-A", "recipients": ["+27824537125", "+27831234567"]}


def _round_results(params: dict[str, Any]) -> bool:
    return on_alert(params) and "completed_rounds" in str(params.get("UpdateExpression", ""))


@pytest.mark.parametrize(
    ("match", "times"),
    [
        (on_message, None),  # every message mapping write fails, after Woosh accepted the sends
        (_round_results, 1),  # the round's final write fails, after every send
    ],
    ids=["mapping-writes", "round-results"],
)
def test_retry_after_dying_half_way_never_sends_twice(
    service: Service, match: Any, times: int | None
) -> None:
    with inject("dynamodb", "UpdateItem", "InternalServerError", match=match, times=times) as fault:
        first = service.post_alert(BODY, headers={"Idempotency-Key": "k-2"})
    FAULTS["injected"] += fault.fired
    assert fault.fired >= 1
    assert first.status == 503
    assert len(service.woosh.sent) == 2  # Woosh was called before the fault
    retry = service.post_alert(BODY, headers={"Idempotency-Key": "k-2"})
    assert retry.status == 201, retry.text
    again = service.post_alert(BODY, headers={"Idempotency-Key": "k-2"})
    assert again.json() == retry.json()
    assert sorted(m.to for m in service.woosh.sent) == ["27824537125", "27831234567"]
    # The alert is complete and consistent: both mappings stored, taps match.
    lines = retry.json()["messages"]
    assert {line["status"] for line in lines} == {"accepted"}
    for line in lines:
        assert service.tap(line["message_id"], 2).json()["outcomes"] == {"tap_matched_context": 1}
    assert len(service.details("Alert Response Received")) == 2


def test_retry_after_dying_before_any_send_sends_once(service: Service) -> None:
    reset_caches()  # the Woosh key must be read again: make that read fail
    with inject("secretsmanager", "GetSecretValue", "InternalServiceError") as fault:
        first = service.post_alert(BODY, headers={"Idempotency-Key": "k-3"})
    FAULTS["injected"] += fault.fired
    assert first.status == 503
    assert service.woosh.sent == []
    retry = service.post_alert(BODY, headers={"Idempotency-Key": "k-3"})
    assert retry.status == 201
    assert sorted(m.to for m in service.woosh.sent) == ["27824537125", "27831234567"]


def test_same_key_different_body_is_refused(service: Service) -> None:
    assert service.post_alert(BODY, headers={"Idempotency-Key": "k-4"}).status == 201
    other = {**BODY, "ticket_id": "EMG-OTHER"}
    assert service.post_alert(other, headers={"Idempotency-Key": "k-4"}).status == 422
    assert len(service.woosh.sent) == 2


def test_faults_were_injected() -> None:
    """Bookkeeping for the issue's figures (runs last in this module)."""
    print(f"faults injected in test_faults: {FAULTS['injected']}")
