"""The stored items' facts and the conditional-write contract (domain/alert_facts.py,
store/table.py). Pure: no sockets, no AWS (a conditional write is a callable that returns or
raises as botocore would)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from lift_alerts.domain.alert_facts import all_deliveries_failed, send_key, sends_in_round, state
from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.store.table import ConditionFailed, Written, conditional, written


def _raise(code: str, item: dict[str, Any] | None = None) -> Any:
    def write() -> Any:
        response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
        if item is not None:
            response["Item"] = item
        raise ClientError(response, "UpdateItem")  # type: ignore[arg-type]

    return write


def test_a_write_that_applied_is_written_with_its_response() -> None:
    result = conditional(lambda: {"Attributes": {"pk": {"S": "alert#1"}}})
    assert result == Written({"Attributes": {"pk": {"S": "alert#1"}}})


def test_a_false_condition_is_condition_failed_with_the_old_item() -> None:
    old = {"pk": {"S": "alert#1"}}
    assert conditional(_raise("ConditionalCheckFailedException", old)) == ConditionFailed(
        "condition_failed", old
    )
    assert written(_raise("ConditionalCheckFailedException")) == ConditionFailed("condition_failed")


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ValidationException"])
def test_any_other_error_is_raised_never_taken_for_a_false_condition(code: str) -> None:
    with pytest.raises(ClientError, match=code):
        conditional(_raise(code))


def test_the_send_key_reads_back_per_round() -> None:
    records = {
        send_key(0, "27820000001"): {"message_id": "m1"},
        send_key(1, "27820000001"): {"message_id": "m2"},
        send_key(1, "27820000002"): {"message_id": None, "error": {"code": "131026"}},
    }
    assert sends_in_round(records, 0) == {"27820000001": {"message_id": "m1"}}
    assert sends_in_round(records, 1) == {
        "27820000001": {"message_id": "m2"},
        "27820000002": {"message_id": None, "error": {"code": "131026"}},
    }
    assert sends_in_round(records, 2) == {}


def test_state_and_all_deliveries_failed_from_the_item() -> None:
    alert: AlertItem = {
        "recipient_order": ["a", "b"],
        "completed_rounds": {"0": "2026-01-01T00:00:00Z"},
        "failures": {
            "m1": {"recipient": "a", "round": 0},
            "m2": {"recipient": "b", "round": 0, "replaced_by_fallback": True},
        },
    }
    assert state(alert) == "awaiting_response"
    # b's failure is replaced by its template fallback: not every delivery failed.
    assert not all_deliveries_failed(alert, 0)
    alert["failures"]["m3"] = {"recipient": "b", "round": 0}
    assert all_deliveries_failed(alert, 0)
    assert state({**alert, "closed_at": "2026-01-01T00:01:00Z"}) == "closed"


def test_a_written_result_is_true_and_a_failed_condition_false() -> None:
    assert written(lambda: {})
    assert not written(_raise("ConditionalCheckFailedException"))
