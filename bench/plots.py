"""The benchmarks' plots, drawn with matplotlib (Agg, no display).

matplotlib is a bench-only requirement (requirements/bench.txt, installed by `make bench`
into .venv-bench): `make test` and `make lint` never install it. So this module imports it
only inside the `draw_*` functions, and everything that decides WHAT is drawn (the curves,
the floors, the goal lines, the points of a strip plot, the axis range) is plain Python
above them, which tests/unit/test_plot_data.py checks without matplotlib. The drawing
itself is checked by looking at the PNGs `make bench` writes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Colours (matplotlib's tab10, colour-blind safe enough for three runs).
RUN_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
FLOOR_COLOUR = "#7f7f7f"
GOAL_COLOUR = "#ff7f0e"
# Tick marks of a lateness axis past 1 s (symmetric log), in seconds.
LOG_TICKS = (0, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300)
LOG_TICKS_FEW = (0, 1, 2, 3, 5, 10, 30, 60, 120, 300)


def cumulative(times: Sequence[float], end: float) -> tuple[list[float], list[float]]:
    """A count of events over time as a step curve (x, y) for `drawstyle="steps-post"`:
    0 until the first event, n after the n-th, flat until `end`."""
    ordered = sorted(times)
    xs = [0.0, *ordered, max(end, ordered[-1] if ordered else 0.0)]
    ys = [0.0, *(float(n) for n in range(1, len(ordered) + 1)), float(len(ordered))]
    return xs, ys


@dataclass(frozen=True)
class MassRun:
    """One mass-alarm run as the stand-in Woosh saw it (seconds after the posts' release)."""

    label: str
    accepted_at: Sequence[float]
    firsts_accepted_at: Sequence[float]
    rate_limited_at: Sequence[float] = ()
    short_label: str = ""  # in the close-up's legend (the label when empty)


@dataclass(frozen=True)
class MassChart:
    """Messages accepted over time against the floor the limits set, one curve per run;
    left every message, right a close-up of every alarm's first recipient."""

    title: str
    runs: Sequence[MassRun]
    floor_all: Sequence[float]  # when the k-th message could go at the earliest
    floor_first: Sequence[float]  # when the k-th alarm's first recipient could
    first_goal_ratio: float
    all_goal_ratio: float

    @property
    def first_goal_seconds(self) -> float:
        return (self.floor_first[-1] if self.floor_first else 0.0) * self.first_goal_ratio

    @property
    def all_goal_seconds(self) -> float:
        return (self.floor_all[-1] if self.floor_all else 0.0) * self.all_goal_ratio

    @property
    def end_seconds(self) -> float:
        """The left panel's x range: the last message or the goal, whichever is later, + 5 %."""
        last = max((max(run.accepted_at) for run in self.runs if run.accepted_at), default=0.0)
        return max(last, self.all_goal_seconds) * 1.05

    @property
    def zoom_seconds(self) -> float:
        """The close-up's x range: past the first-contact goal and the last first contact."""
        last = max((max(run.firsts_accepted_at) for run in self.runs if run.firsts_accepted_at), default=0.0)
        return max(last, self.first_goal_seconds) * 1.15 + 0.5

    @property
    def rate_limited(self) -> int:
        return sum(len(run.rate_limited_at) for run in self.runs)


def strip_points(values: Sequence[float], row: float, *, spread: float = 0.28, seed: int = 0) -> list[float]:
    """The y of each point of one row of a strip plot: `row` +- `spread`, jittered by a fixed
    seed so that the same figures always give the same picture."""
    rng = random.Random(seed)
    return [row + rng.uniform(-spread, spread) for _ in values]


@dataclass(frozen=True)
class LatenessChart:
    """Each kind of timed step's lateness (seconds from due to first send or mark)."""

    title: str
    by_kind: dict[str, list[float]]
    goals: Sequence[tuple[float, str]] = ((2.0, "goal in AWS: 2 s"), (3.0, "goal over the local stack: 3 s"))
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def largest(self) -> float:
        return max((max(v) for v in self.by_kind.values() if v), default=0.0)

    @property
    def log_scale(self) -> bool:
        """A symmetric-log x axis when some step was more than 10 s late (a one-minute sweep),
        so the goals at 2-3 s stay readable beside it; linear otherwise."""
        return self.largest > 10

    @property
    def x_max(self) -> float:
        top = max(self.largest, max((g for g, _ in self.goals), default=0.0))
        return top * (1.6 if self.log_scale else 1.15) + 0.2

    def row_label(self, kind: str) -> str:
        s = self.summaries.get(kind) or {}
        n = len(self.by_kind.get(kind, []))
        if s.get("p99") is None:
            return f"{kind.replace('_', ' ')}\n(n={n})"
        return f"{kind.replace('_', ' ')}\nn={n}, p99 {s['p99']:.2f} s, max {s['max']:.2f} s"


def ecdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """The empirical distribution (x, share of values <= x) as a step curve from 0."""
    ordered = sorted(values)
    n = len(ordered)
    return [0.0, *ordered], [0.0, *((k + 1) / n for k in range(n))]


# ---------------------------------------------------------------- drawing (needs matplotlib)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.fontsize": 9,
            "legend.framealpha": 0.9,
        }
    )
    return plt


def draw_mass(chart: MassChart, path: Path) -> None:
    plt = _pyplot()
    fig, (whole, close) = plt.subplots(
        1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [3, 2]}, constrained_layout=True
    )
    end, zoom = chart.end_seconds, chart.zoom_seconds
    fx, fy = cumulative(chart.floor_all, end)
    whole.plot(
        fx,
        fy,
        drawstyle="steps-post",
        color=FLOOR_COLOUR,
        lw=2.2,
        ls="--",
        label="floor: 10 a second, 100 in any 60 s, none before its alarm was posted",
    )
    gx, gy = cumulative(chart.floor_first, zoom)
    close.plot(gx, gy, drawstyle="steps-post", color=FLOOR_COLOUR, lw=2.2, ls="--", label="floor")
    for run, colour in zip(chart.runs, RUN_COLOURS, strict=False):
        x, y = cumulative(run.accepted_at, end)
        whole.plot(x, y, drawstyle="steps-post", color=colour, lw=1.6, label=run.label)
        x, y = cumulative(run.firsts_accepted_at, zoom)
        label = run.short_label or run.label
        last = max(run.firsts_accepted_at, default=0.0)
        if last > chart.first_goal_seconds:  # when the last alarm was reached, past the goal: marked
            label += f": last alarm reached at {last:.1f} s"
            close.plot([last], [len(run.firsts_accepted_at)], "o", color=colour, ms=7, mfc="none", mew=2)
        close.plot(x, y, drawstyle="steps-post", color=colour, lw=1.6, label=label)
    whole.axvline(
        chart.all_goal_seconds,
        color=GOAL_COLOUR,
        lw=1.4,
        ls=":",
        label=f"goal: all sent by {chart.all_goal_seconds:.1f} s ({chart.all_goal_ratio:g} x floor)",
    )
    close.axvline(
        chart.first_goal_seconds,
        color=GOAL_COLOUR,
        lw=1.4,
        ls=":",
        label=f"goal: every alarm reached by {chart.first_goal_seconds:.1f} s "
        f"({chart.first_goal_ratio:g} x floor)",
    )
    limited = [t for run in chart.runs for t in run.rate_limited_at]
    for axis, right in ((whole, end), (close, zoom)):
        shown = [t for t in limited if t <= right]
        if shown:  # on the x axis where Woosh answered 429; the count says how many in all
            axis.plot(
                shown,
                [0] * len(shown),
                "x",
                color="#d62728",
                ms=9,
                mew=2,
                clip_on=False,
                label=f"429 rate_limited from Woosh ({len(limited)} in all runs)",
            )
        axis.set_xlabel("seconds after the alarms were released")
        axis.set_ylim(bottom=0)
    total = len(chart.floor_all)
    whole.set_xlim(0, end)
    whole.set_ylim(0, total * 1.05)
    whole.set_ylabel("messages accepted by Woosh (cumulative)")
    whole.set_title("every message")
    whole.legend(loc="best")
    close.set_xlim(0, zoom)
    close.set_ylim(0, len(chart.floor_first) * 1.08)
    close.set_ylabel("alarms whose first recipient was accepted")
    close.set_title("first recipient of every alarm (close-up)")
    close.legend(loc="best")
    fig.suptitle(chart.title, fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_lateness(chart: LatenessChart, path: Path) -> None:
    plt = _pyplot()
    kinds = list(chart.by_kind)
    if not any(chart.by_kind.values()):
        fig = plt.figure(figsize=(9, 2.6))
        fig.text(0.5, 0.5, "no timed step was logged", ha="center", va="center", fontsize=13)
        fig.suptitle(chart.title, fontsize=12, fontweight="bold")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    fig, (strip, dist) = plt.subplots(
        1,
        2,
        figsize=(13, max(3.8, 1.0 + 0.85 * len(kinds))),
        gridspec_kw={"width_ratios": [3, 2]},
        constrained_layout=True,
    )
    rows = list(range(len(kinds)))[::-1]  # the first kind on top
    for row, kind, colour in zip(rows, kinds, (RUN_COLOURS * 3), strict=False):
        values = chart.by_kind[kind]
        strip.boxplot(
            [values],
            positions=[row],
            vert=False,
            widths=0.55,
            whis=(0, 100),
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": "white", "edgecolor": "#444"},
            medianprops={"color": "#444", "lw": 1.6},
        )
        strip.scatter(
            values,
            strip_points(values, row, seed=row),
            s=16,
            color=colour,
            alpha=0.7,
            edgecolors="none",
            zorder=3,
        )
        x, y = ecdf(values)
        dist.plot(x, y, drawstyle="steps-post", color=colour, lw=1.8, label=f"{kind} (n={len(values)})")
    from matplotlib.transforms import blended_transform_factory

    on_top = blended_transform_factory(strip.transData, strip.transAxes)
    for index, ((goal, label), style) in enumerate(zip(chart.goals, (":", "--"), strict=False)):
        strip.axvline(goal, color=GOAL_COLOUR, lw=1.5, ls=style)
        dist.axvline(goal, color=GOAL_COLOUR, lw=1.5, ls=style, label=label)
        strip.text(
            goal,
            1.0,
            f" {label} " if index else f"{label} ",
            transform=on_top,
            color=GOAL_COLOUR,
            ha="left" if index else "right",
            va="bottom",
            fontsize=8.5,
        )
    strip.set_yticks(rows, [chart.row_label(kind) for kind in kinds])
    strip.set_ylim(-0.7, len(kinds) - 0.3)
    strip.set_title("every step (dots); box: quartiles, whiskers: min and max", pad=16)
    dist.set_title("share of steps at most this late", pad=16)
    dist.set_ylabel("share of steps")
    dist.set_ylim(0, 1.02)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    for axis, ticks in ((strip, LOG_TICKS), (dist, LOG_TICKS_FEW)):
        if chart.log_scale:
            axis.set_xscale("symlog", linthresh=1.0, linscale=0.6)
            axis.xaxis.set_major_locator(FixedLocator([t for t in ticks if t <= chart.x_max]))
            axis.xaxis.set_minor_locator(NullLocator())
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        axis.set_xlim(0, chart.x_max)
    strip.set_xlabel(
        "seconds late (from due to first send or mark)" + (", log scale past 1 s" if chart.log_scale else "")
    )
    dist.set_xlabel("seconds late")
    # One row under both panels: the curves may fill any corner of the distribution's panel.
    fig.legend(*dist.get_legend_handles_labels(), loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(chart.title, fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=110)
    plt.close(fig)
