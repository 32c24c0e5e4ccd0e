"""The step-lateness benchmark's plan of alerts and its figures from the stack's log (pure)."""

from __future__ import annotations

from bench.lateness import (
    ALERTS_NEEDED,
    PER_MINUTE,
    figures,
    met,
    most_in_window,
    plan,
    plan_messages_per_window,
)
from tests.unit.test_stack_log_lines import step_line


def test_the_plan_spreads_fifty_alerts_steps_over_two_minutes_within_woosh_s_limit() -> None:
    planned = plan()
    assert len(planned) >= ALERTS_NEEDED
    due = [at for alert in planned for _kind, at in alert.steps()]
    assert max(due) - min(due) >= 120
    kinds = {kind for alert in planned for kind, _at in alert.steps()}
    assert kinds == {
        "reminder",
        "unanswered",
        "confirmation_request",
        "confirmation_reminder",
        "confirmation_missed",
    }
    assert sum(alert.entrapment for alert in planned) == 5
    assert {alert.max_rounds for alert in planned if not alert.entrapment} == {1, 2}
    assert all(20 <= alert.after_seconds <= 140 for alert in planned)
    # Steps on time never need more than Woosh allows: the send budget never delays a step.
    assert plan_messages_per_window(planned) <= PER_MINUTE * 0.9
    assert len({alert.body()["recipients"][0] for alert in planned}) == len(planned)


def test_an_escalation_alert_s_steps_are_its_rounds_then_the_unanswered_mark() -> None:
    alert = next(a for a in plan() if not a.entrapment and a.max_rounds == 2)
    a, c = alert.after_seconds, alert.created_at
    assert alert.steps() == [("reminder", c + a), ("reminder", c + 2 * a), ("unanswered", c + 3 * a)]
    assert alert.body()["escalation"] == {"after_seconds": a, "max_rounds": 2}


def test_the_most_in_any_window() -> None:
    assert most_in_window([0.0, 10.0, 59.9, 60.0, 61.0]) == 4  # 10, 59.9, 60, 61
    assert most_in_window([]) == 0


def test_figures_from_the_log_and_the_goals() -> None:
    planned = plan(4, entrapment_every=2)  # alerts 1 and 3 answered Entrapment
    ids = {0: "a0", 1: "a1", 2: "a2", 3: "a3"}
    log = "\n".join(
        [
            step_line("reminder", "a0", 0.4),
            step_line("unanswered", "a0", 1.2),
            step_line("confirmation_request", "a1", 0.3),
            step_line("reminder", "a2", 2.6),
            step_line("reminder", "other", 50.0),
        ]
    )
    result = figures(log, planned, ids, unfinished=1)
    assert result["step_lateness_p99_seconds"] == 2.6
    assert result["step_lateness_max_seconds"] == 2.6
    assert (result["steps_seen"], result["alerts_with_steps"], result["alerts_unfinished"]) == (4, 3, 1)
    reminders = sum(kind == "reminder" for alert in planned for kind, _at in alert.steps())
    assert result["by_kind"]["reminder"] == {
        "count": 2,
        "p50": 0.4,
        "p99": 2.6,
        "max": 2.6,
        "expected": reminders,
    }
    assert result["steps_expected"] == sum(len(a.steps()) for a in planned)
    assert not met(result)  # p99 over 2 s, and far fewer than 50 alerts
    nothing = figures("", planned, ids)
    assert (nothing["step_lateness_p99_seconds"], nothing["steps_seen"]) == (None, 0)
    assert not met(nothing)
