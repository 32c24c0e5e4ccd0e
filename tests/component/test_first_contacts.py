"""First contacts first (SPEC §11): every alarm's first recipient before anyone's second.

The budget item against moto with a fake clock, then alarms posted through the send handler
against the stand-in Woosh: what each POST answered and what Woosh received."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from lift_alerts.domain.send_slots import PacingLimits
from lift_alerts.store.send_budget import SendBudget
from tests.support.budget import budget_frees_up, real_windows
from tests.support.fake_time import FakeTime
from tests.support.harness import LambdaContext, handler_module
from tests.support.service import Service

REGION = "af-south-1"
WOOSH = PacingLimits(guard_seconds=0.0)


def budget(table: str, fake: FakeTime) -> SendBudget:
    client = boto3.client("dynamodb", region_name=REGION)
    return SendBudget(table, WOOSH, client, clock=fake.clock, sleep=fake.sleep)


def test_a_lone_alarm_s_other_recipients_wait_one_grace_then_go(table: str) -> None:
    fake = FakeTime(1000.0)
    assert budget(table, fake).reserve(1, not_after=1100.0, first_contact=True).slots == (1000.0,)
    fake.now = 1000.1
    others = budget(table, fake).reserve(2, not_after=1100.0, patient=False)
    assert others.slots == pytest.approx((1001.0, 1001.0), abs=0.02)  # after the grace: nobody else came
    assert sum(fake.slept) == pytest.approx(0.9, abs=0.02)


def test_during_a_burst_others_wait_until_the_last_first_contact_s_slot_has_passed(table: str) -> None:
    """Ten alarms at once at 2 a second: their first contacts' slots run 4.5 s, longer than the
    burst's window counts from their arrival. The others wait past the last of those slots, so a
    first contact that woke late can give its slot back and take one again first (SPEC §12)."""
    two_a_second = PacingLimits(per_second=2, spacing_seconds=0.5, guard_seconds=0.0)
    fake = FakeTime(1000.0)
    client = boto3.client("dynamodb", region_name=REGION)
    alarms = SendBudget(table, two_a_second, client, clock=fake.clock, sleep=fake.sleep)
    firsts = [alarms.reserve(1, not_after=1100.0, first_contact=True).slots[0] for _ in range(10)]
    assert firsts[-1] == pytest.approx(1004.5)
    fake.now = 1000.1
    others = SendBudget(table, two_a_second, client, clock=fake.clock, sleep=fake.sleep)
    refused = others.reserve(1, not_after=1100.0, patient=False)  # a queueing caller: refused
    # The burst's window ends at 1005.0 (its third-last arrival + 5 s); the last slot is later.
    assert (refused.slots, refused.next_free) == ((), pytest.approx(1004.5 + 1.0))


def test_other_recipients_give_up_when_first_contacts_keep_arriving(table: str) -> None:
    """While they wait out the grace, another alarm's first contact is reserved (a burst): the
    impatient (queueing) caller gets nothing; the patient one waits until the alarms stop."""
    fake = FakeTime(1000.0)
    budget(table, fake).reserve(1, not_after=1100.0, first_contact=True)
    arrivals = iter([1000.8, 1001.6, 1002.4])  # a first contact 0.8 s after each read

    def sleep_while_alarms_arrive(seconds: float) -> None:
        fake.now += seconds
        at = next(arrivals, None)
        if at is not None:
            budget(table, FakeTime(at)).reserve(1, not_after=1100.0, first_contact=True)

    others = SendBudget(
        table,
        WOOSH,
        boto3.client("dynamodb", region_name=REGION),
        clock=fake.clock,
        sleep=sleep_while_alarms_arrive,
    )
    fake.now = 1000.1
    refused = others.reserve(2, not_after=1100.0, patient=False)
    assert refused.slots == ()
    assert refused.next_free == pytest.approx(1000.8 + WOOSH.first_grace)

    granted = others.reserve(2, not_after=1100.0)  # patient
    assert len(granted.slots) == 2
    # Not before the burst is over: 5 s after the first of the last three first contacts.
    assert min(granted.slots) >= 1000.8 + WOOSH.burst_window


def test_first_contacts_never_wait_for_each_other(table: str) -> None:
    fake = FakeTime(2000.0)
    for _ in range(12):
        budget(table, fake).reserve(1, not_after=2100.0, first_contact=True)
    assert fake.slept == []


def post_one_after_another(service: Service, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST each body from its own thread, each as soon as Woosh received the previous alarm's
    first message (alarms arriving together, in a known order)."""
    answers: list[dict[str, Any]] = [{} for _ in bodies]

    def post(index: int) -> None:
        result = service.post_alert(bodies[index])
        assert result.status == 201, result.text
        answers[index] = result.json()

    threads = []
    for index, body in enumerate(bodies):
        threads.append(threading.Thread(target=post, args=(index,)))
        threads[-1].start()
        first = body["recipients"][0]
        deadline = time.monotonic() + 10
        while first not in [m.to for m in service.woosh.sent] and time.monotonic() < deadline:
            time.sleep(0.005)
    for thread in threads:
        thread.join(timeout=60)
    return answers


def statuses(answer: dict[str, Any]) -> dict[str, str]:
    return {str(line["to"]): str(line["status"]) for line in answer["messages"]}


def test_two_alarms_in_one_second_reach_both_first_recipients_before_either_second(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Woosh allows two messages a minute here: both go to the alarms' first recipients, the
    second recipients are queued (before, the first alarm took both slots)."""
    real_windows(monkeypatch, per_minute=2)
    bodies: list[dict[str, Any]] = [
        {"ticket_id": "SHED-1", "lift_id": "LIFT-1", "recipients": ["27820000101", "27820000102"]},
        {"ticket_id": "SHED-2", "lift_id": "LIFT-2", "recipients": ["27820000201", "27820000202"]},
    ]
    answers = post_one_after_another(service, bodies)
    assert statuses(answers[0]) == {"27820000101": "accepted", "27820000102": "queued"}
    assert statuses(answers[1]) == {"27820000201": "accepted", "27820000202": "queued"}
    assert sorted(m.to for m in service.woosh.sent) == ["27820000101", "27820000201"]
    assert service.woosh.rate_limited_count == 0

    # The minute passes: the dispatcher sends the second recipients, each once.
    budget_frees_up(monkeypatch)
    monkeypatch.setenv("WOOSH_RATE_PER_MINUTE", "100")
    run = handler_module("dispatcher").lambda_handler({}, LambdaContext(function_name="dispatcher"))
    assert run["sent"] == 2
    assert sorted(m.to for m in service.woosh.sent) == sorted(
        ["27820000101", "27820000201", "27820000102", "27820000202"]
    )


def test_a_lone_alarm_still_has_every_recipient_accepted_in_its_answer(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_windows(monkeypatch)  # Woosh's real windows and a 1 s grace
    began = time.monotonic()
    result = service.post_alert(
        {
            "ticket_id": "EMG-9",
            "lift_id": "LIFT-9",
            "recipients": ["27820000901", "27820000902", "27820000903"],
        }
    )
    assert result.status == 201, result.text
    assert set(statuses(result.json()).values()) == {"accepted"}
    assert next(m.to for m in service.woosh.sent) == "27820000901"  # the first contact first
    assert time.monotonic() - began < 5  # one grace, not a minute
