"""The service-wide send budget's slot computation (SPEC §11), pure, with a fake clock."""

from __future__ import annotations

import itertools

import pytest

from lift_alerts.domain.send_slots import PacingLimits, next_slots
from lift_alerts.platform.config import ConfigurationError

REGION = "af-south-1"
WOOSH = PacingLimits(per_second=10, per_minute=100, time_scale=1.0, guard_seconds=0.0)


def fill(limits: PacingLimits, count: int, now: float = 0.0) -> list[float]:
    return next_slots([], now, limits, count)


def test_ten_go_at_once_then_ten_a_second() -> None:
    slots = fill(WOOSH, 25)
    assert slots[:10] == [0.0] * 10
    assert slots[10:20] == [1.0] * 10
    assert slots[20:] == [2.0] * 5


def test_the_hundred_and_first_waits_a_minute_after_the_first() -> None:
    slots = fill(WOOSH, 101)
    assert slots[99] == 9.0
    assert slots[100] == 60.0


def test_three_hundred_slots_never_crowd_a_window() -> None:
    limits = PacingLimits(guard_seconds=0.05)
    slots = fill(limits, 300, now=1000.0)
    assert all(b >= a for a, b in itertools.pairwise(slots))
    for i, at in enumerate(slots):
        assert sum(1 for s in slots[: i + 1] if s > at - 1.0) <= 10
        assert sum(1 for s in slots[: i + 1] if s > at - 60.0) <= 100
    assert slots[-1] == pytest.approx(120.1 + 9.0 * 1.05 + 1000.0, abs=0.01)


def test_as_deployed_a_minute_apart_means_a_quarter_second_more_and_a_first_minute_is_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first of each pair a minute apart goes in a burst's busiest second and reaches Woosh
    # later after its slot than its partner: 50 ms of margin earned a 429 beside a CPU hog.
    for name in ("WOOSH_RATE_TIME_SCALE", "WOOSH_RATE_GUARD_MS", "WOOSH_RATE_MINUTE_GUARD_MS"):
        monkeypatch.delenv(name, raising=False)
    limits = PacingLimits.from_env()
    assert (limits.short_window, limits.long_window) == pytest.approx((1.05, 60.25))
    slots = fill(limits, 101, now=1000.0)
    assert slots[99] == pytest.approx(1000.0 + 9 * 1.05 + 0.9)  # the first 100: unchanged
    assert slots[100] == pytest.approx(1060.25)
    monkeypatch.setenv("WOOSH_RATE_MINUTE_GUARD_MS", "5001")
    with pytest.raises(ConfigurationError, match="WOOSH_RATE_MINUTE_GUARD_MS"):
        PacingLimits.from_env()


def test_a_late_reservation_starts_now_and_old_slots_do_not_count() -> None:
    history = fill(WOOSH, 100)
    assert next_slots(history, 500.0, WOOSH, 1) == [500.0]


def test_time_scale_shrinks_both_windows() -> None:
    scaled = PacingLimits(time_scale=0.1, guard_seconds=0.0)
    slots = fill(scaled, 101)
    assert slots[10] == pytest.approx(0.1)
    assert slots[100] == pytest.approx(6.0)


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOOSH_RATE_PER_SECOND", "5")
    monkeypatch.setenv("WOOSH_RATE_PER_MINUTE", "50")
    monkeypatch.setenv("WOOSH_RATE_TIME_SCALE", "0.5")
    monkeypatch.setenv("WOOSH_RATE_GUARD_MS", "0")
    monkeypatch.setenv("WOOSH_RATE_MINUTE_GUARD_MS", "0")
    limits = PacingLimits.from_env()
    assert (limits.per_second, limits.per_minute, limits.short_window, limits.long_window) == (
        5,
        50,
        0.5,
        30.0,
    )
    monkeypatch.setenv("WOOSH_RATE_PER_SECOND", "0")
    with pytest.raises(ConfigurationError, match="WOOSH_RATE_PER_SECOND"):
        PacingLimits.from_env()
