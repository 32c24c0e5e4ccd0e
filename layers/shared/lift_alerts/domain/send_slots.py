"""Woosh's limits as the service applies them to itself (SPEC §11), and the pure rules of the
send budget: the earliest send times that keep within them, and when a send that is not an
alarm's first contact must give way. `store.send_budget` keeps the shared budget item that
these rules are computed from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lift_alerts.platform.config import number_env

# A sleeping thread wakes this late on an idle host (not scaled: it is the OS's timer).
TIMER_SLACK_SECONDS = 0.005


@dataclass(frozen=True)
class PacingLimits:
    """Woosh's limits as the service applies them to itself.

    `time_scale` shrinks both windows (tests and the benchmark run against a stand-in whose
    limits are scaled the same way); `guard_seconds` is added to the short window and
    `minute_guard_seconds` (None: the same) to the long one, so that jitter between two sends
    a window apart cannot make Woosh count them in one window. The long window's guard is
    wider because its two sends are far apart in what they went through: the first of a
    minute's pairs goes in a burst's busiest second (alarms arriving, instances starting), so
    it reaches Woosh later after its slot than its partner 60 s on (seen in the benchmark
    beside a CPU hog: a pair 54 ms short of 60 s apart, a 429 at a 50 ms guard). It delays a
    minute's later sends that much once, never a first contact of the first minute.
    """

    per_second: int = 10
    per_minute: int = 100
    time_scale: float = 1.0
    guard_seconds: float = 0.05
    minute_guard_seconds: float | None = None
    # How long other sends give way after an alarm's first contact was reserved (module
    # docstring), at Woosh's scale: alarms of one burst arrive well within a second of each other.
    first_grace_seconds: float = 1.0
    # This many first contacts this close together are a burst: more alarms are likely to follow.
    burst_firsts: int = 3
    burst_seconds: float = 5.0
    # The least time between two slots, at Woosh's scale (0: a second's sends may all go at
    # once). Evenly spaced slots leave the next one only this far ahead of the last: instances
    # taking slots at the same moment always find them ahead, never already past
    # (`SendBudget`); SPEC §11's floor counts evenly too (the 100th at 9.9 s).
    spacing_seconds: float = 0.0
    # How far ahead of now a new series of slots starts at least, at Woosh's scale: time for
    # the instances that lose the race to start it to take its first slots before they pass.
    series_head_seconds: float = 0.0

    @property
    def short_window(self) -> float:
        return 1.0 * self.time_scale + self.guard_seconds

    @property
    def long_window(self) -> float:
        guard = self.guard_seconds if self.minute_guard_seconds is None else self.minute_guard_seconds
        return 60.0 * self.time_scale + guard

    @property
    def first_grace(self) -> float:
        return self.first_grace_seconds * self.time_scale

    @property
    def burst_window(self) -> float:
        return self.burst_seconds * self.time_scale

    @classmethod
    def from_env(cls) -> PacingLimits:
        """WOOSH_RATE_PER_SECOND (10), WOOSH_RATE_PER_MINUTE (100), WOOSH_RATE_TIME_SCALE (1),
        WOOSH_RATE_GUARD_MS (50), WOOSH_RATE_MINUTE_GUARD_MS (250), WOOSH_FIRST_GRACE_MS (1000),
        WOOSH_RATE_SPACING_MS (a second over the per-second limit: 100), WOOSH_SERIES_HEAD_MS (300)."""
        per_second = int(_env("WOOSH_RATE_PER_SECOND", 10, 1, 1000))
        return cls(
            per_second=per_second,
            per_minute=int(_env("WOOSH_RATE_PER_MINUTE", 100, 1, 10_000)),
            time_scale=_env("WOOSH_RATE_TIME_SCALE", 1.0, 0.001, 100.0),
            guard_seconds=_env("WOOSH_RATE_GUARD_MS", 50, 0, 5000) / 1000,
            minute_guard_seconds=_env("WOOSH_RATE_MINUTE_GUARD_MS", 250, 0, 5000) / 1000,
            first_grace_seconds=_env("WOOSH_FIRST_GRACE_MS", 1000, 0, 10_000) / 1000,
            spacing_seconds=_env("WOOSH_RATE_SPACING_MS", 1000 / per_second, 0, 1000) / 1000,
            series_head_seconds=_env("WOOSH_SERIES_HEAD_MS", 300, 0, 5000) / 1000,
        )


def _env(name: str, default: float, low: float, high: float) -> float:
    """Any number (a fraction of a millisecond or a scale too); a bad one is a configuration
    error naming the variable (read at cold start: a retry could never help a request)."""
    return number_env(name, float(default), float(low), float(high))


def next_slots(slots: Sequence[float], now: float, limits: PacingLimits, count: int) -> list[float]:
    """The earliest `count` send times after `slots` (reserved times, oldest first) that keep
    at most `per_second` in any short window and `per_minute` in any long window.

    Each new slot is at least `spacing` after the last one (the list stays sorted), at or
    after `now`, a short window after the `per_second`-th last slot and a long window after
    the `per_minute`-th last slot.
    """
    taken = list(slots)
    fresh: list[float] = []
    for _ in range(count):
        at = max(now, taken[-1] + limits.spacing_seconds * limits.time_scale) if taken else now
        if len(taken) >= limits.per_second:
            at = max(at, taken[-limits.per_second] + limits.short_window)
        if len(taken) >= limits.per_minute:
            at = max(at, taken[-limits.per_minute] + limits.long_window)
        # Stored to the millisecond, never earlier (rounded first: 1000.2 + 0.1 is 1000.3000000000001).
        at = math.ceil(round(at * 1000, 6)) / 1000
        taken.append(at)
        fresh.append(at)
    return fresh


def give_way_until(
    firsts: Sequence[float], now: float, limits: PacingLimits, last_first_slot: float | None = None
) -> float | None:
    """Until when a send that is not an alarm's first contact must wait before reserving, or
    None. `firsts`: when the latest first contacts were reserved, oldest first;
    `last_first_slot`: the latest first contact's send slot (`store.send_budget` has the rule).

    Every other send gives way for one grace after the last first contact was reserved; during
    a burst (`burst_firsts` of them), until the burst ends and one grace after the last first
    contact's slot: a first contact that woke late and gave its slot back takes one again
    before anyone else, in the same minute."""
    ends = [at + limits.first_grace for at in firsts[-1:]]
    if len(firsts) >= limits.burst_firsts:
        ends.append(firsts[-limits.burst_firsts] + limits.burst_window)
        if last_first_slot is not None:
            ends.append(last_first_slot + limits.first_grace)
    until = max(ends, default=now)
    return until if until > now else None


@dataclass(frozen=True)
class Reservation:
    """Send times granted (epoch seconds, ascending; fewer than asked when the rest would be
    later than `not_after`), and when the first slot not granted would have been."""

    slots: tuple[float, ...]
    next_free: float
    # How late after its slot a send may still leave: later, it could crowd the next window.
    late_by: float = math.inf
