"""What the benchmark plots show (pure): bench/plots.py decides every curve, floor, goal line
and axis range without matplotlib, which only `make bench` installs. The drawing itself is
checked by looking at the PNGs a bench run writes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench import plots
from bench.load import load_report
from bench.mass import chart, floor_seconds, run_label
from bench.plots import LatenessChart, MassChart, MassRun, cumulative, ecdf, strip_points


def test_the_plot_module_imports_matplotlib_only_inside_its_draw_functions() -> None:
    tree = ast.parse(Path(plots.__file__).read_text(encoding="utf-8"))
    top_level = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert "matplotlib" not in top_level


def test_a_cumulative_count_is_a_step_curve_to_the_end() -> None:
    assert cumulative([2.0, 1.0], 5.0) == ([0.0, 1.0, 2.0, 5.0], [0.0, 1.0, 2.0, 2.0])
    assert cumulative([], 3.0) == ([0.0, 3.0], [0.0, 0.0])
    assert cumulative([4.0], 1.0) == ([0.0, 4.0, 4.0], [0.0, 1.0, 1.0])  # never ends before its last event


def run(firsts_end: float, all_end: float, limited: tuple[float, ...] = ()) -> MassRun:
    return MassRun("r", [0.5, 1.0, all_end], [0.5, firsts_end], limited)


def test_the_mass_chart_places_its_goal_lines_and_ranges() -> None:
    floors = [floor_seconds(k) for k in range(1, 301)]
    firsts = [floor_seconds(k) for k in range(1, 101)]
    chart_ = MassChart("t", [run(11.0, 133.0), run(12.0, 131.0, (30.0,))], floors, firsts, 1.15, 1.10)
    assert chart_.first_goal_seconds == pytest.approx(9.9 * 1.15)
    assert chart_.all_goal_seconds == pytest.approx(129.9 * 1.10)
    assert chart_.end_seconds == pytest.approx(129.9 * 1.10 * 1.05)  # the goal is later than any message
    assert chart_.zoom_seconds == pytest.approx(12.0 * 1.15 + 0.5)  # the last first contact is past the goal
    assert chart_.rate_limited == 1


def test_the_mass_plot_s_floors_come_from_when_the_alarms_were_posted() -> None:
    """Posted faster than 10 a second the limits decide alone; slower, no message goes before
    its alarm (as the figures count it)."""
    common = {"time_scale": 1.0, "alarms": 3, "recipients": 2, "accepted_at": [], "firsts_accepted_at": []}
    fast = {**common, "posted_offsets": [0.0, 0.01, 0.02], "rate_limited_at": []}
    slow = {**common, "posted_offsets": [0.0, 1.0, 2.0], "rate_limited_at": []}
    for figures in (fast, slow):
        figures.update(mass_alarm_first_reach_ratio=1.1, mass_alarm_all_sent_ratio=1.0, load_mean=0.5)
    assert chart([fast], "t").floor_first == pytest.approx([0.0, 0.1, 0.2])
    assert chart([fast], "t").floor_all == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert chart([slow], "t").floor_first == pytest.approx([0.0, 1.0, 2.0])
    hogged = {**slow, "cpu_hog": True}
    labels = [r.short_label for r in chart([slow, hogged], "t").runs]
    assert labels == ["run 1", "run 2, CPU hog"]
    assert run_label(2, hogged).startswith("run 2, beside a CPU hog on one core (load 0.5): first reach 1.1")


def test_strip_points_are_jittered_within_their_row_and_repeatable() -> None:
    values = [0.1, 0.5, 2.0, 2.5]
    ys = strip_points(values, 3.0, spread=0.25, seed=7)
    assert len(ys) == 4
    assert all(2.75 <= y <= 3.25 for y in ys)
    assert ys == strip_points(values, 3.0, spread=0.25, seed=7)


def test_the_distribution_is_a_step_from_zero_to_one() -> None:
    assert ecdf([3.0, 1.0]) == ([0.0, 1.0, 3.0], [0.0, 0.5, 1.0])


def test_the_lateness_chart_goes_logarithmic_only_for_a_sweep_s_minute() -> None:
    quick = LatenessChart("t", {"reminder": [0.2, 1.4]}, summaries={"reminder": {"p99": 1.4, "max": 1.4}})
    swept = LatenessChart("t", {"reminder": [0.2, 58.0], "unanswered": [12.0]})
    assert not quick.log_scale
    assert quick.x_max == pytest.approx(3.0 * 1.15 + 0.2)  # the 3 s goal stays in view
    assert swept.log_scale
    assert swept.x_max > 58.0
    assert quick.row_label("reminder") == "reminder\nn=2, p99 1.40 s, max 1.40 s"
    assert swept.row_label("unanswered") == "unanswered\n(n=1)"
    assert [goal for goal, _label in quick.goals] == [2.0, 3.0]


def test_the_load_report_of_a_run() -> None:
    assert load_report([1.0, 3.0, 2.0]) == {
        "load_start": 1.0,
        "load_end": 2.0,
        "load_mean": 2.0,
        "load_max": 3.0,
    }
    assert load_report([])["load_mean"] is None
