"""When a timed step's wake-up is sent, how a wait past SQS's 900 s is chained, and how late a
step ran (SPEC §12). Pure: no AWS."""

from __future__ import annotations

import pytest

from lift_alerts.domain.step_timing import (
    MAX_DELAY_SECONDS,
    WAIT_AT_MOST_SECONDS,
    StepSeries,
    WakeUp,
    lateness,
    wake_up_delay,
)


@pytest.mark.parametrize(
    ("due_at", "now", "delay"),
    [
        (1120.0, 1000.0, 120),  # whole seconds until due
        (1120.9, 1000.0, 120),  # rounded down: the consumer waits out the fraction
        (1000.0, 1000.0, 0),  # due now
        (990.0, 1000.0, 0),  # overdue (a bring-forward, a late schedule): at once
        (1000.0 + 3600, 1000.0, 900),  # past SQS's limit: 900, then a chain
        (1000.0 + 900, 1000.0, 900),
    ],
)
def test_the_delay_is_the_whole_seconds_until_due_within_sqs_limits(
    due_at: float, now: float, delay: int
) -> None:
    assert wake_up_delay(due_at, now) == delay
    assert 0 <= wake_up_delay(due_at, now) <= MAX_DELAY_SECONDS


def test_a_wait_past_900_s_is_a_chain_of_wake_ups_that_ends_at_the_due_time() -> None:
    """Each wake-up that arrives early sends the next with the rest of the wait."""
    due, now, hops = 1000.0 + 2000, 1000.0, []
    wake_up = WakeUp("a" * 32, StepSeries.ESCALATION, due)
    while wake_up.needs_another(now):
        delay = wake_up_delay(due, now)
        hops.append(delay)
        now += delay  # SQS delivers it after its delay (never before)
    assert hops == [900, 900, 200]
    assert 0 <= wake_up.early_by(now) <= WAIT_AT_MOST_SECONDS


def test_a_wake_up_arriving_a_moment_early_waits_instead_of_chaining() -> None:
    wake_up = WakeUp("a" * 32, StepSeries.CONFIRMATION, 1000.0)
    assert not wake_up.needs_another(999.2)
    assert wake_up.early_by(999.2) == pytest.approx(0.8)
    assert wake_up.needs_another(1000.0 - WAIT_AT_MOST_SECONDS - 0.5)


def test_a_wake_up_round_trips_through_its_message_body() -> None:
    wake_up = WakeUp("b" * 32, StepSeries.CONFIRMATION, 1234.5)
    assert WakeUp.of(wake_up.body()) == wake_up


@pytest.mark.parametrize(
    "body",
    [
        {},
        None,
        [],
        {"alert_id": "a", "series": "escalation"},
        {"alert_id": "a", "series": "nope", "due_at": 1},
        {"alert_id": 1, "series": "escalation", "due_at": 1},
        {"alert_id": "a", "series": "escalation", "due_at": True},
        {"alert_id": "a", "series": "escalation", "due_at": float("inf")},
        {"alert_id": "a", "series": "escalation", "due_at": "1000"},
    ],
)
def test_a_body_that_is_not_a_wake_up_is_none(body: object) -> None:
    assert WakeUp.of(body) is None


def test_lateness_is_seconds_from_due_to_run_never_negative() -> None:
    assert lateness(1000.0, 1001.25) == 1.25
    assert lateness(1000.0, 1000.0004) == 0.0  # to the millisecond
    assert lateness(1000.0, 999.0) == 0.0
