"""Queued sends (SPEC §11): a recipient with no send slot before the deadline is `queued`,
then sent by the dispatcher as soon as the budget allows, recorded like any send, once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from lift_alerts.flows import dispatch
from tests.robustness.support import inject
from tests.support.budget import budget_frees_up, real_windows
from tests.support.harness import handler_module, lambda_context
from tests.support.service import Service

TECH, DESK, SUPERVISOR = "27824537125", "27831234567", "27820000001"


def dispatcher(service: Service) -> dict:
    return dict(handler_module("dispatcher").lambda_handler({}, lambda_context("dispatcher")))


@pytest.fixture
def two_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    real_windows(monkeypatch, per_minute=2)


def test_a_recipient_without_a_slot_is_queued_then_sent_once(
    service: Service, two_a_minute: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = service.post_alert(
        {"ticket_id": "EMG-1", "lift_id": "LIFT-A", "recipients": [TECH, DESK, SUPERVISOR]}
    )
    assert result.status == 201, result.text
    lines = {line["to"]: line for line in result.json()["messages"]}
    assert lines[TECH]["status"] == lines[DESK]["status"] == "accepted"
    assert lines[SUPERVISOR] == {"to": SUPERVISOR, "message_id": None, "status": "queued"}
    alert_id = result.json()["alert_id"]
    shown = {r["to"]: r for r in service.get_alert(alert_id).json()["recipients"]}
    assert shown[SUPERVISOR]["delivery_status"] == "queued"
    assert shown[SUPERVISOR]["message_id"] is None
    assert sorted(m.to for m in service.woosh.sent) == sorted([TECH, DESK])
    assert service.details("Alert Delivery Failed") == []  # queued is not a failure

    budget_frees_up(monkeypatch)
    assert dispatcher(service)["sent"] == 1
    assert dispatcher(service)["sent"] == 0  # nothing left, nothing sent twice
    assert sorted(m.to for m in service.woosh.sent) == sorted([TECH, DESK, SUPERVISOR])
    shown = {r["to"]: r for r in service.get_alert(alert_id).json()["recipients"]}
    message_id = shown[SUPERVISOR]["message_id"]
    assert message_id == service.woosh.sent[-1].message_id
    assert shown[SUPERVISOR]["delivery_status"] == "accepted"
    # Its mapping is stored like any other: a tap on it is matched by context.
    assert service.tap(message_id, 2).status == 200
    assert service.get_alert(alert_id).json()["first_response"]["responder"]["wa_id"] == SUPERVISOR


def test_when_nobody_gets_a_slot_the_alert_is_201_queued_and_not_all_failed(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_windows(monkeypatch, per_minute=1)
    service.send_alert([TECH])  # takes the one slot of the minute
    result = service.post_alert({"ticket_id": "EMG-2", "lift_id": "LIFT-B", "recipients": [DESK]})
    assert result.status == 201, result.text
    assert result.json()["messages"][0]["status"] == "queued"
    stored = service.stored_alert(result.json()["alert_id"])
    # Escalation stays anchored to creation: not brought forward as if every delivery failed.
    assert stored["due_at"] == stored["created_epoch"] + stored["escalation"]["after_seconds"]


def test_a_dispatcher_that_dies_after_the_send_completes_it_without_sending_again(
    service: Service, two_a_minute: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = service.send_alert([TECH, DESK, SUPERVISOR])["alert_id"]
    budget_frees_up(monkeypatch)
    monkeypatch.setattr(dispatch, "LEASE_SECONDS", -1)  # the crashed run's lease has expired
    # The queue entry cannot be removed: the run fails after Woosh accepted and it was recorded.
    with (
        inject("dynamodb", "DeleteItem", "InternalServerError", match=lambda p: "queued#" in str(p)) as fault,
        pytest.raises(ClientError, match="injected"),
    ):
        dispatcher(service)
    assert fault.fired >= 1
    assert len(service.woosh.sent) == 3
    assert dispatcher(service)["sent"] == 1  # the retry completes the bookkeeping...
    assert len(service.woosh.sent) == 3  # ...without a second message
    shown = {r["to"]: r for r in service.get_alert(alert_id).json()["recipients"]}
    assert shown[SUPERVISOR]["message_id"] == service.woosh.sent[-1].message_id
    assert dispatcher(service)["sent"] == 0


def test_a_dispatcher_that_dies_before_the_send_leaves_it_queued_for_the_next_run(
    service: Service, two_a_minute: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = service.send_alert([TECH, DESK, SUPERVISOR])["alert_id"]
    budget_frees_up(monkeypatch)
    monkeypatch.setattr(dispatch, "LEASE_SECONDS", -1)
    with (
        inject("dynamodb", "GetItem", "InternalServerError", match=lambda p: "alert#" in str(p), times=1),
        pytest.raises(ClientError, match="injected"),
    ):
        dispatcher(service)
    assert len(service.woosh.sent) == 2
    shown = {r["to"]: r for r in service.get_alert(alert_id).json()["recipients"]}
    assert shown[SUPERVISOR]["delivery_status"] == "queued"
    assert dispatcher(service)["sent"] == 1
    assert len(service.woosh.sent) == 3


def test_woosh_failing_a_queued_send_once_is_retried_and_sent_once(
    service: Service, two_a_minute: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.send_alert([TECH, DESK, SUPERVISOR])
    budget_frees_up(monkeypatch)
    service.woosh.fail_next(SUPERVISOR, error="server_error")
    assert dispatcher(service)["sent"] == 1
    accepted = [m for m in service.woosh.sent if m.accepted]
    assert [m.to for m in accepted].count(SUPERVISOR) == 1
