"""The mass-alarm benchmark's arithmetic (pure): the floor the limits set and the figures
computed from what the stand-in Woosh received."""

from __future__ import annotations

import pytest

from bench.mass import HEADLINE, figures, floor_schedule, floor_seconds, met, pair_of, phone, worst


def test_the_floor_is_the_spec_s_ten_a_second_and_a_hundred_a_minute() -> None:
    assert floor_seconds(1) == 0.0
    assert floor_seconds(100) == pytest.approx(9.9)
    assert floor_seconds(101) == pytest.approx(60.0)
    assert floor_seconds(300) == pytest.approx(129.9)
    assert floor_seconds(300, time_scale=0.1) == pytest.approx(12.99)


def test_the_floor_never_sends_an_alarm_before_it_was_posted() -> None:
    # Posted faster than 10 a second (the benchmark's few seconds): the limits decide alone.
    assert floor_schedule([0.03 * k for k in range(100)]) == pytest.approx([0.1 * k for k in range(100)])
    # Posted slower: each goes when it arrives, until the minute's hundred are spent.
    assert floor_schedule([0.0, 1.0, 1.05, 5.0]) == pytest.approx([0.0, 1.0, 1.1, 5.0])
    assert floor_schedule([0.5 * k for k in range(101)])[-1] == pytest.approx(60.0)
    assert floor_schedule([2.0, 0.0], time_scale=0.1) == pytest.approx([0.0, 2.0])


def test_benchmark_figures_from_what_woosh_received() -> None:
    """Two alarms x two recipients: a doubled send, a message never accepted, a 429 before
    the accepted attempt; times from the release of the posts."""
    sent = [
        {"to": phone(0, 0), "status_code": 200, "received_at": 100.0},
        {"to": phone(1, 0), "status_code": 429, "received_at": 100.05},
        {"to": phone(1, 0), "status_code": 200, "received_at": 100.1},
        {"to": phone(0, 1), "status_code": 200, "received_at": 160.0},
        {"to": phone(0, 1), "status_code": 200, "received_at": 161.0},
        {"to": "+27999", "status_code": 200, "received_at": 100.0},  # not one of the alarms
    ]
    result = figures(sent, alarms=2, recipients=2, started=100.0, time_scale=1.0, rate_limited=1)
    late = figures(sent, alarms=2, recipients=2, started=100.0, time_scale=1.0, queued_at_end=[(1, 1)])
    paced = figures(
        sent, alarms=2, recipients=2, started=100.0, time_scale=1.0, posted_at={0: 100.0, 1: 100.04}
    )
    assert result["first_reach_seconds"] == pytest.approx(0.1)
    assert result["mass_alarm_first_reach_ratio"] == pytest.approx(1.0)  # floor of 2: 0.1 s
    assert result["mass_alarm_lost"] == 1  # alarm 1's second recipient
    assert result["mass_alarm_doubled"] == 1
    assert result["mass_alarm_all_sent_ratio"] == float("inf")
    assert result["mass_alarm_rate_limited"] == 1
    assert result["mass_alarm_firsts_in_first_n"] == 2
    # Still queued when the run's time was up: unfinished, not lost.
    assert (late["mass_alarm_lost"], late["mass_alarm_unfinished"]) == (0, 1)
    # Each alarm from its own POST: alarm 1 was posted 0.04 s after the release.
    assert paced["first_contact_max_wait_seconds"] == pytest.approx(0.06)
    # Posted 2 s apart: the second alarm's first contact could not go before 2 s.
    slow = figures(
        sent, alarms=2, recipients=2, started=100.0, time_scale=1.0, posted_at={0: 100.0, 1: 102.0}
    )
    assert slow["first_reach_floor_seconds"] == pytest.approx(2.0)
    assert slow["mass_alarm_first_reach_ratio"] == pytest.approx(0.05)


def test_phone_numbers_map_back_to_their_alarm_and_recipient() -> None:
    assert pair_of(phone(42, 2), 100, 3) == (42, 2)
    assert pair_of(phone(142, 2), 100, 3) is None
    assert pair_of("+27824537125", 100, 3) is None


def test_the_headline_of_several_runs_is_each_figure_at_its_worst() -> None:
    quiet = dict.fromkeys(HEADLINE, 0) | {
        "mass_alarm_first_reach_ratio": 1.11,
        "mass_alarm_all_sent_ratio": 1.03,
    }
    hogged = quiet | {"mass_alarm_first_reach_ratio": 1.14, "mass_alarm_all_sent_ratio": 1.02}
    lost = quiet | {"mass_alarm_slots_lost": 1}
    # Each figure from the run where it was worst, not one run's figures.
    assert worst([quiet, hogged]) == quiet | {"mass_alarm_first_reach_ratio": 1.14}
    assert met(worst([quiet, hogged]))
    assert worst([quiet, lost, hogged])["mass_alarm_slots_lost"] == 1
    assert not met(worst([quiet, lost, hogged]))  # one slot lost in any run misses the goal
    assert not met(quiet | {"mass_alarm_first_reach_ratio": float("inf")})


def test_the_times_woosh_answered_429_are_kept_for_the_plot() -> None:
    sent = [
        {"to": phone(0, 0), "status_code": 200, "received_at": 100.0},
        {"to": phone(1, 0), "status_code": 429, "received_at": 100.5},
        {"to": phone(1, 0), "status_code": 200, "received_at": 101.0},
    ]
    result = figures(sent, alarms=2, recipients=1, started=100.0, time_scale=1.0, rate_limited=1)
    assert result["rate_limited_at"] == [0.5]
    assert result["accepted_at"] == [0.0, 1.0]
