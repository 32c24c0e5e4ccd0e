"""First contacts first (SPEC §11): the pure rule by which other sends give way to alarms'
first recipients."""

from __future__ import annotations

import pytest

from lift_alerts.domain.send_slots import PacingLimits, give_way_until
from lift_alerts.platform.config import ConfigurationError

WOOSH = PacingLimits(guard_seconds=0.0)


def test_without_a_first_contact_nothing_gives_way() -> None:
    assert give_way_until([], 1000.0, WOOSH) is None


def test_other_sends_give_way_for_one_grace_after_a_lone_first_contact() -> None:
    assert give_way_until([1000.0], 1000.2, WOOSH) == pytest.approx(1001.0)
    assert give_way_until([1000.0], 1001.0, WOOSH) is None  # the grace is over
    assert give_way_until([900.0, 1000.0], 1000.2, WOOSH) == pytest.approx(1001.0)  # long apart


def test_two_alarms_together_are_not_a_burst() -> None:
    """Two alarms at one site: the second alarm's other recipients wait one grace, no more."""
    assert give_way_until([1000.0, 1002.0], 1002.1, WOOSH) == pytest.approx(1003.0)


def test_three_first_contacts_within_five_seconds_hold_other_sends_until_the_burst_is_over() -> None:
    assert give_way_until([1000.0, 1001.0, 1002.0], 1002.1, WOOSH) == pytest.approx(1005.0)
    assert give_way_until([1000.0, 1000.5, 1004.5], 1004.6, WOOSH) == pytest.approx(1005.5)  # grace later
    assert give_way_until([1000.0, 1001.0, 1002.0], 1005.0, WOOSH) is None
    assert give_way_until([990.0, 1001.0, 1002.0], 1003.5, WOOSH) is None  # 12 s apart: no burst


def test_the_grace_and_burst_window_scale_with_the_windows() -> None:
    scaled = PacingLimits(time_scale=0.5, guard_seconds=0.0)
    assert (scaled.first_grace, scaled.burst_window) == (pytest.approx(0.5), pytest.approx(2.5))
    assert give_way_until([1000.0], 1000.2, scaled) == pytest.approx(1000.5)


def test_the_grace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOOSH_RATE_TIME_SCALE", "1")
    monkeypatch.setenv("WOOSH_FIRST_GRACE_MS", "400")
    assert PacingLimits.from_env().first_grace == pytest.approx(0.4)
    monkeypatch.setenv("WOOSH_FIRST_GRACE_MS", "-1")
    with pytest.raises(ConfigurationError, match="WOOSH_FIRST_GRACE_MS"):
        PacingLimits.from_env()


def test_during_a_burst_others_also_wait_until_the_last_first_contacts_slot_has_passed() -> None:
    """A first contact that woke late gives its slot back and takes one again (SPEC §12): no
    other send may take the minute's slots before, or it would go into the next minute."""
    burst = [1000.0, 1000.5, 1001.0]
    # The burst is over at 1005.0, but the last first contact's slot is at 1009.9.
    assert give_way_until(burst, 1005.5, WOOSH, last_first_slot=1009.9) == pytest.approx(1010.9)
    assert give_way_until(burst, 1011.0, WOOSH, last_first_slot=1009.9) is None
    # Not a burst (two alarms at one site): their slot does not hold the others.
    assert give_way_until([1000.0, 1000.5], 1001.6, WOOSH, last_first_slot=1009.9) is None
