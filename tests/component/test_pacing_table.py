"""The service-wide send budget item (SPEC §11) reserved against moto, from many threads at once."""

from __future__ import annotations

import logging
import threading

import boto3
import pytest

from lift_alerts.domain.send_slots import PacingLimits
from lift_alerts.store.send_budget import BUDGET_KEY, FIRSTS_KEPT, SendBudget
from tests.unit.test_pacing import REGION, WOOSH


def test_reservation_past_the_deadline_is_refused_and_takes_nothing(table: str) -> None:
    now = [1000.0]
    budget = SendBudget(table, WOOSH, boto3.client("dynamodb", region_name=REGION), clock=lambda: now[0])
    first = budget.reserve(100, not_after=1100.0)
    assert len(first.slots) == 100
    assert first.next_free == 1060.0
    refused = budget.reserve(1, not_after=1059.0)
    assert refused.slots == ()
    assert refused.next_free == 1060.0
    assert budget.reserve(1, not_after=1060.0).slots == (1060.0,)


def test_tickets_taken_past_the_deadline_are_given_back_and_taken_again(
    table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The ADD takes every ticket asked for; those whose slot falls after the caller's deadline
    are never sent: they are given back (SPEC §12), so the next reservation takes their place
    instead of the slots after them, and nothing is logged as lost."""
    caplog.set_level(logging.INFO, logger="lift-alerts")
    now = [1000.0]
    limits = PacingLimits(spacing_seconds=0.1, guard_seconds=0.0)
    budget = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: now[0])
    assert budget.reserve(1, not_after=1100.0).slots == (1000.0,)
    partly = budget.reserve(3, not_after=1000.15)
    assert partly.slots == (1000.1,)
    given = [
        (r.getMessage(), r.__dict__.get("slots")) for r in caplog.records if "given back" in r.getMessage()
    ]
    assert given == [("send slots given back", 2)]
    assert budget.reserve(2, not_after=1100.0).slots == (1000.2, 1000.3)
    assert not [r for r in caplog.records if r.getMessage() == "send slots lost"]


def test_a_new_series_starts_far_enough_ahead_that_racers_take_it_and_a_replaced_one_is_reported(
    table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A new series starts two leads ahead (a lead: two round trips), so an instance that learns
    of it a round trip later still finds its next slot far enough ahead and takes it instead of
    starting yet another (under load that was a storm of restarts). A series whose next slot is
    closer than a lead is replaced, and the slots skipped are logged with the time they span."""
    caplog.set_level(logging.INFO, logger="lift-alerts")
    now = [1000.0]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    # Every call to the table takes 150 ms (of the test's clock): the lead is 300 ms.
    dynamodb.meta.events.register("before-call.dynamodb.*", lambda **_: now.__setitem__(0, now[0] + 0.15))
    limits = PacingLimits(spacing_seconds=0.1, guard_seconds=0.0)
    budget = SendBudget(table, limits, dynamodb, clock=lambda: now[0])
    assert budget.reserve(1, not_after=1100.0).slots == (1000.75,)  # read answered at 1000.15
    assert budget.reserve(1, not_after=1100.0).slots == (1000.85,)  # read at 1000.45: 400 ms ahead
    now[0] = 1000.7
    # Read answered at 1000.85: the next slot (1000.95) is 100 ms ahead, closer than the lead.
    assert budget.reserve(1, not_after=1100.0).slots == (1001.45,)
    starts = [
        (r.levelname, r.__dict__["skipped_ms"])
        for r in caplog.records
        if r.getMessage() == "send series started"
    ]
    assert starts == [("INFO", 0.0), ("WARNING", pytest.approx(500.0, abs=1.5))]
    assert budget.retries == 0


def test_many_threads_reserving_at_once_never_crowd_a_window(table: str) -> None:
    """Fake clock at the budget's start, so the windows are checked on the reserved times
    themselves: 16 threads (like 16 instances) reserve 150 slots between them."""
    limits = PacingLimits(guard_seconds=0.0)
    reserved: list[float] = []
    lock = threading.Lock()
    conflicts = [0]
    barrier = threading.Barrier(16)

    def instance(count: int) -> None:
        budget = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: 5000.0)
        barrier.wait()
        got: list[float] = []
        while len(got) < count:
            got += budget.reserve(min(3, count - len(got)), not_after=1e12).slots
        with lock:
            reserved.extend(got)
            conflicts[0] += budget.conflicts

    threads = [threading.Thread(target=instance, args=(10 if i < 6 else 9,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reserved) == 150
    slots = sorted(reserved)
    for at in slots:
        assert sum(1 for s in slots if at <= s < at + 1.0) <= 10
        assert sum(1 for s in slots if at <= s < at + 60.0) <= 100
    # As early as the limits allow: 100 in the first 9 s, the rest a minute later.
    assert slots[99] == 5009.0
    assert slots[100] == 5060.0
    assert conflicts[0] > 0  # the threads really raced


def _firsts_stored(table: str) -> list[float]:
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=table, Key=BUDGET_KEY)["Item"]
    return [float(value["N"]) for value in item["firsts"]["L"]]


def test_the_first_contacts_kept_on_the_budget_stay_few_however_many_alarms_come(table: str) -> None:
    """Every reservation reads the whole item: the list of first contacts is cut back to the
    last few (what the give-way rule reads) instead of growing by one per alarm."""
    now = [1000.0]
    limits = PacingLimits(spacing_seconds=0.1, guard_seconds=0.0)
    budget = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: now[0])
    lengths = []
    for alarm in range(3 * FIRSTS_KEPT):
        now[0] = 1000.0 + alarm * 0.1
        assert len(budget.reserve(1, not_after=1e12, first_contact=True).slots) == 1
        lengths.append(len(_firsts_stored(table)))
    assert max(lengths) == FIRSTS_KEPT
    assert min(lengths[FIRSTS_KEPT:]) == limits.burst_firsts  # cut back, then grown again
    # The latest first contacts are all there, newest last: the give-way rule sees a burst.
    assert _firsts_stored(table)[-limits.burst_firsts :] == pytest.approx(
        [1000.0 + alarm * 0.1 for alarm in range(3 * FIRSTS_KEPT - limits.burst_firsts, 3 * FIRSTS_KEPT)]
    )
    assert budget.reserve(1, not_after=1e12, patient=False).slots == ()  # a second recipient waits


def test_a_cut_that_lost_the_race_to_another_first_contact_keeps_that_one(table: str) -> None:
    """Instance A read a long list and cuts it back; instance B adds its first contact between
    A's read and A's write. A's write must not drop B's: it is refused and A tries again."""
    limits = PacingLimits(spacing_seconds=0.1, guard_seconds=0.0)
    seeded = [1000.0]
    seed = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: seeded[0])
    for alarm in range(FIRSTS_KEPT):
        seeded[0] = 1000.0 + alarm * 0.1
        seed.reserve(1, not_after=1e12, first_contact=True)
    at_a, at_b = 1003.15, 1003.16  # before the next slot (1003.2): tickets of the same series
    dynamodb_a = boto3.client("dynamodb", region_name=REGION)
    a = SendBudget(table, limits, dynamodb_a, clock=lambda: at_a)
    b = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: at_b)
    raced: list[tuple[float, ...]] = []

    def b_goes_first(**_: object) -> None:
        if not raced:
            raced.append(b.reserve(1, not_after=1e12, first_contact=True).slots)

    dynamodb_a.meta.events.register("before-call.dynamodb.UpdateItem", b_goes_first)
    got = a.reserve(1, not_after=1e12, first_contact=True).slots
    assert (len(got), len(raced[0])) == (1, 1)
    assert got != raced[0]
    assert _firsts_stored(table)[-2:] == [at_b, at_a]
    assert a.conflicts == 1


def test_first_contacts_racing_the_cut_each_get_a_slot(table: str) -> None:
    """Many instances reserve first contacts at once while the list is cut back: each gets its
    own slot (a cut that lost the race is tried again), and the list stays short."""
    limits = PacingLimits(spacing_seconds=0.1, guard_seconds=0.0)
    warm = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: 5000.0)
    for _ in range(FIRSTS_KEPT - 2):
        warm.reserve(1, not_after=1e12, first_contact=True)
    reserved: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def instance() -> None:
        budget = SendBudget(table, limits, boto3.client("dynamodb", region_name=REGION), clock=lambda: 5000.0)
        barrier.wait()
        got = budget.reserve(1, not_after=1e12, first_contact=True).slots
        with lock:
            reserved.extend(got)

    threads = [threading.Thread(target=instance) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(reserved) == len(set(reserved)) == 12
    assert len(_firsts_stored(table)) <= FIRSTS_KEPT
