"""No send capacity is lost (SPEC §11, §12): a send slot taken and not used is given back, so the
windows count it for no later send, against the budget item in moto.

With 2 messages a minute, a slot given back is the difference between the next message going
at once and going a minute later: exactly what a late wake-up used to cost a lift's first
contact under a mass alarm."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import boto3
import pytest

from lift_alerts.domain.send_slots import PacingLimits
from lift_alerts.store import send_budget
from lift_alerts.store.send_budget import BUDGET_KEY, SendBudget
from lift_alerts.woosh.client import WooshClient
from local.woosh_standin import WooshStandIn
from tests.support.fake_time import FakeTime
from tests.support.harness import LOCAL_SECRET
from tests.unit.test_pacing import REGION

TWO_A_MINUTE = PacingLimits(per_second=10, per_minute=2, guard_seconds=0.05, spacing_seconds=0.1)


def budget_at(table: str, clock: FakeTime) -> SendBudget:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return SendBudget(table, TWO_A_MINUTE, dynamodb, clock=clock.time, sleep=clock.sleep)


def test_a_slot_given_back_is_taken_by_the_next_send_in_the_same_minute(table: str) -> None:
    clock = FakeTime(1000.0)
    budget = budget_at(table, clock)
    first, second = budget.reserve(2, not_after=2000.0).slots
    full = budget.reserve(1, not_after=first + 59)  # refused: takes nothing
    assert (full.slots, full.next_free) == ((), first + 60.05)  # the minute is full
    budget.give_back([second], "woke too late")
    clock.now = second + 0.2  # the late sender comes back for a slot
    [again] = budget.reserve(1, not_after=2000.0).slots
    assert again < first + 60  # the same minute, not the next
    # Never more than 2 used in any minute: `first` and `again` (the given-back one was not used).
    assert again - first < 60.05


def test_a_sender_that_wakes_too_late_gives_its_slot_back_and_sends_in_the_same_minute(
    table: str, woosh: WooshStandIn
) -> None:
    clock = FakeTime(1000.0)
    budget = budget_at(table, clock)
    budget.reserve(1, not_after=2000.0)  # one of the minute's two slots is someone else's
    client = WooshClient(
        woosh.base_url, LOCAL_SECRET["woosh_api_key"], budget=budget, clock=clock.time, sleep=clock.sleep
    )
    clock.overrun = 0.5  # its first sleep wakes it half a second after its slot
    [result] = client.send_all(
        [{"to": "27831234567", "text": "Lift alarm"}],
        deadline=time.monotonic() + 30,
        first_contact=True,
    )
    assert result.accepted
    assert [m.to for m in woosh.sent] == ["27831234567"]
    assert clock.now < 1060  # without the give-back: the next minute (1060.05 at the earliest)


def _refusing_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connections to it are refused


def test_a_send_refused_before_it_reached_the_bridge_gives_its_slot_back(
    table: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lift-alerts")
    budget = SendBudget(table, TWO_A_MINUTE, boto3.client("dynamodb", region_name=REGION))
    client = WooshClient(f"http://127.0.0.1:{_refusing_port()}", "key", budget=budget)
    [result] = client.send_all([{"to": "27831234567", "text": "x"}], deadline=time.monotonic() + 4)
    assert result.error_code == "connection_error"
    given = [r for r in caplog.records if r.getMessage() == "send slots given back"]
    assert given
    assert {r.__dict__["why"] for r in given} == {"the send never reached the Bridge"}
    assert not [r for r in caplog.records if r.getMessage() == "send slots lost"]


def test_a_send_refused_by_the_bridges_rate_limiter_gives_its_slot_back(
    table: str, woosh: WooshStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """A `429 rate_limited` is the Bridge's own limiter refusing before it counted the message
    (the stand-in's, like Woosh's, uses no capacity for it): the retry and the next message
    both go in the same minute of two, instead of the next message waiting a minute."""
    caplog.set_level(logging.INFO, logger="lift-alerts")
    clock = FakeTime(1000.0)
    client = WooshClient(
        woosh.base_url,
        LOCAL_SECRET["woosh_api_key"],
        budget=budget_at(table, clock),
        clock=clock.time,
        sleep=clock.sleep,
    )
    woosh.fail_next("27831234567", error="rate_limited")
    [retried] = client.send_all([{"to": "27831234567", "text": "Lift alarm"}], deadline=time.monotonic() + 30)
    [second] = client.send_all([{"to": "27831234568", "text": "Lift alarm"}], deadline=time.monotonic() + 30)
    assert retried.accepted
    assert second.accepted
    assert [m.to for m in woosh.sent if m.message_id] == ["27831234567", "27831234568"]
    assert clock.now < 1060  # without the give-back: the next minute (1060.05 at the earliest)
    given = [r.__dict__["why"] for r in caplog.records if r.getMessage() == "send slots given back"]
    assert given == ["refused by the Bridge's rate limiter"]


class RacedBudget:
    """A budget of 100 a minute (the racers' tickets never push its slot out of the windows'
    count) with one slot taken, and a racer that takes a ticket just before each of the
    budget's next `races` writes of a new series."""

    def __init__(self, table: str, races: int) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        clock = FakeTime(1000.0)
        limits = PacingLimits(spacing_seconds=0.1)
        self.budget = SendBudget(table, limits, self.dynamodb, clock=clock.time, sleep=clock.sleep)
        [self.slot] = self.budget.reserve(1, not_after=2000.0).slots
        self.races_left = races
        racer = boto3.client("dynamodb", region_name=REGION)

        def a_reservation_lands_first(**kwargs: Any) -> None:
            if kwargs["params"].get("Item", {}).get("pk") == BUDGET_KEY["pk"] and self.races_left > 0:
                self.races_left -= 1
                racer.update_item(
                    TableName=table,
                    Key=BUDGET_KEY,
                    UpdateExpression="ADD issued :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )

        events = self.dynamodb.meta.events
        events.register("before-parameter-build.dynamodb.PutItem", a_reservation_lands_first)


def test_a_give_back_that_loses_every_race_is_logged_and_counted_as_lost(
    table: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="lift-alerts")
    monkeypatch.setattr(send_budget, "GIVE_BACK_TRIES", 3)
    raced = RacedBudget(table, races=1000)
    raced.budget.give_back([raced.slot], "woke too late")
    lost = [r for r in caplog.records if r.getMessage() == "send slots lost"]
    assert [(r.__dict__["slots"], r.__dict__["why"]) for r in lost] == [(1, "woke too late")]


def test_a_give_back_outlasts_a_burst_of_reservations_and_retries_without_reading_again(
    table: str, caplog: pytest.LogCaptureFixture
) -> None:
    # During a mass alarm's posting a reservation lands every few tens of ms: a give-back that
    # lost ten in a row was lost (the bench's one lost slot, a lift's first contact a minute late).
    caplog.set_level(logging.INFO, logger="lift-alerts")
    raced = RacedBudget(table, races=15)
    reads: list[int] = []
    events = raced.dynamodb.meta.events
    events.register("before-parameter-build.dynamodb.GetItem", lambda **_: reads.append(1))
    raced.budget.give_back([raced.slot], "woke too late")
    assert raced.races_left == 0  # it lost 15 races
    given = [r.__dict__["slots"] for r in caplog.records if r.getMessage() == "send slots given back"]
    assert given == [1]
    assert not [r for r in caplog.records if r.getMessage() == "send slots lost"]
    assert len(reads) == 1  # each lost race returned the item as it was: no read after it
