"""A retry that finds no send slot before the deadline (SPEC §11 budget) ends with the error it
was retrying: the message was tried and failed; only a message never tried waits in the queue."""

from __future__ import annotations

import time
from typing import Any

from lift_alerts.domain.deliveries import NO_SLOT
from lift_alerts.domain.send_slots import Reservation
from lift_alerts.woosh.client import WooshClient
from local.woosh_standin import WooshStandIn
from tests.support.harness import LOCAL_SECRET


class OneSlotBudget:
    """Grants the first reservation at once and refuses every later one (the budget is full)."""

    def __init__(self) -> None:
        self.calls = 0

    def reserve(self, count: int, *, not_after: float, first_contact: bool = False, **_: Any) -> Reservation:
        self.calls += 1
        now = time.time()
        return Reservation((now,) if self.calls == 1 else (), now + 60)


def test_a_retry_without_a_slot_reports_the_error_it_retried(woosh: WooshStandIn) -> None:
    woosh.fail_next("27831234567", error="server_error", times=6)
    client = WooshClient(woosh.base_url, LOCAL_SECRET["woosh_api_key"], budget=OneSlotBudget())
    body = {"to": "27831234567", "text": "hello"}
    result = client.send(body, deadline=time.monotonic() + 10)
    assert (result.accepted, result.error_code) == (False, "server_error")
    assert [m.error for m in woosh.sent] == ["server_error"]  # one attempt: the one slot


def test_a_first_attempt_without_a_slot_is_left_for_the_queue(woosh: WooshStandIn) -> None:
    budget = OneSlotBudget()
    budget.calls = 1  # the budget is full from the start
    client = WooshClient(woosh.base_url, LOCAL_SECRET["woosh_api_key"], budget=budget)
    result = client.send({"to": "27831234567", "text": "hi"}, deadline=time.monotonic() + 10)
    assert result.error_code == NO_SLOT
