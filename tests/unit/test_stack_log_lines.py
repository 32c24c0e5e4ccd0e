"""What the benchmarks read from the local stack's log (pure): the "timed step ran" lines,
the send-slot lines, and nearest-rank percentiles."""

from __future__ import annotations

import json

import pytest

from bench.stack_log import (
    KIND_ORDER,
    StepRun,
    lateness_by_kind,
    percentile,
    slot_lines,
    summary,
    timed_steps,
)


def step_line(kind: str, alert_id: str, late: object, **extra: object) -> str:
    record = {
        "level": "INFO",
        "location": "ran:92",
        "message": "timed step ran",
        "timestamp": "2026-12-07 19:38:26,071+0000",
        "service": "lift-alerts",
        "alert_id": alert_id,
        "step": kind,
        "due_at": "2026-12-07T19:38:24Z",
        "lateness_seconds": late,
        **extra,
    }
    return json.dumps(record)


LOG = "\n".join(
    [
        '{"level": "INFO", "message": "alert sent", "alert_id": "a1"}',
        step_line("reminder", "a1", 0.412),
        "[local api] WebhookFunction raised:",
        "Traceback (most recent call last):",
        step_line("unanswered", "a1", 1.5),
        step_line("confirmation_request", "a2", 2.25),
        step_line("reminder", "someone-else", 59.0),  # another alert in the same stack
        step_line("reminder", "a2", "late"),  # not a number: malformed
        '{"message": "timed step ran", "step": "reminder", "alert_id": "a2", "lateness_',  # cut off
        step_line("reminder", "a2", True),  # a bool is no lateness
        '{"level": "INFO", "message": "send slots given back", "slots": 2, "why": "late wake-up"}',
        '{"level": "WARNING", "message": "send slots lost", "slots": 3, "why": "conflicts"}',
        '{"level": "WARNING", "message": "send slots lost", "why": "no count"}',
        '{"level": "INFO", "message": "send series started", "starts_in_ms": 300.0, "lead_ms": 2.0}',
        '{"level": "WARNING", "message": "send series started", "starts_in_ms": 880.1, "skipped_ms": 556.4}',
    ]
)


def test_the_timed_step_lines_of_the_given_alerts_are_read() -> None:
    steps, malformed = timed_steps(LOG, {"a1", "a2"})
    assert steps == [
        StepRun("reminder", "a1", 0.412, "2026-12-07T19:38:24Z"),
        StepRun("unanswered", "a1", 1.5, "2026-12-07T19:38:24Z"),
        StepRun("confirmation_request", "a2", 2.25, "2026-12-07T19:38:24Z"),
    ]
    assert malformed == 3  # a format change shows as malformed lines, not as fewer steps
    every, _ = timed_steps(LOG)
    assert [s.alert_id for s in every] == ["a1", "a1", "a2", "someone-else"]


def test_a_line_with_a_prefix_before_its_json_is_still_read() -> None:
    steps, malformed = timed_steps("2026-12-07T19:38:26 " + step_line("reminder", "a1", 0.5))
    assert (len(steps), malformed) == (1, 0)


def test_send_slots_given_back_and_lost_are_counted_by_line_and_by_slot() -> None:
    assert slot_lines(LOG) == {
        "given_back_lines": 1,
        "given_back_slots": 2,
        "lost_lines": 2,
        "lost_slots": 4,  # 3, and 1 for the line that names no count
        "series_skipped_lines": 1,  # a series that replaced one whose next slot was still ahead
        "series_skipped_ms": 556,
    }
    assert set(slot_lines("").values()) == {0}


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    # Fewer than 100 values: p99 is the largest, never an interpolation below it.
    assert percentile([0.1, 0.2, 5.0], 99) == 5.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([7.0], 1) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 0)


def test_a_summary_gives_count_p50_p99_and_max() -> None:
    late = [0.2] * 98 + [2.5, 2.9]
    assert summary(late) == {"count": 100, "p50": 0.2, "p99": 2.5, "max": 2.9}
    assert summary([]) == {"count": 0, "p50": None, "p99": None, "max": None}


def test_kinds_are_grouped_in_report_order_then_unknown_ones() -> None:
    steps = [
        StepRun("unanswered", "a", 2.0),
        StepRun("a_new_kind", "b", 1.0),
        StepRun("reminder", "c", 3.0),
        StepRun("reminder", "d", 1.0),
    ]
    assert lateness_by_kind(steps) == {"reminder": [1.0, 3.0], "unanswered": [2.0], "a_new_kind": [1.0]}
    assert KIND_ORDER[0] == "reminder"
