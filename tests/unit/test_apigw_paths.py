"""The emulator's API Gateway events for awkward paths (schemathesis found the first one)."""

from __future__ import annotations

import pytest

from tests.support.harness import http_event


@pytest.mark.parametrize("alert_id", ["?", "#", "a?b=c"])
def test_a_path_parameter_that_looks_like_a_query_or_fragment_stays_a_path_parameter(alert_id: str) -> None:
    event = http_event(
        "POST", f"/alerts/{alert_id}/close", body=b"{}", headers={"content-type": "application/json"}
    )
    assert event["routeKey"] == "POST /alerts/{alert_id}/close"
    assert event["pathParameters"] == {"alert_id": alert_id}
    assert event["rawQueryString"] == ""


def test_a_query_string_is_passed_apart_from_the_path() -> None:
    event = http_event("GET", "/alerts/abc", query={"x": "1"})
    assert (event["rawPath"], event["pathParameters"], event["rawQueryString"]) == (
        "/alerts/abc",
        {"alert_id": "abc"},
        "x=1",
    )
