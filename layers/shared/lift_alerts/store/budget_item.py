"""The send budget's item (`budget#woosh`) as read: the current series of send slots, and the
facts every instance computes from it alike (`store.send_budget` has the mechanism).

- `series_no`, `series_start`: which series, and when its first slot may be;
- `before`: the slots still inside a long window from the series before (given-back slots
  left out, SPEC §12);
- `issued`: how many tickets of this series were handed out (ticket k's slot is the k-th of
  `domain.send_slots.next_slots(before, series_start, ...)`);
- `firsts`: when the latest alarms' first contacts were reserved (`FIRSTS_KEPT` at most);
- `first_end`: one past the last ticket of this series taken for a first contact, and
  `first_until`: the last first-contact slot of the series before: while a burst of alarms
  lasts, every other send gives way until the last first contact's slot has passed, so that
  one given back (a late wake-up) can be taken again in the same minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lift_alerts.domain.send_slots import PacingLimits, next_slots

BUDGET_KEY = {"pk": {"S": "budget#woosh"}}
# At most this many first-contact times stay on the budget item (`give_way_until` reads the
# last `burst_firsts`): every reservation reads the whole item, and while a series lasts (as
# long as sends keep coming) the list would otherwise grow by one per alarm, towards
# DynamoDB's 400 KB item limit, past which no reservation could be written at all.
FIRSTS_KEPT = 32


@dataclass(frozen=True)
class BudgetSeries:
    """The budget item as read (module docstring)."""

    base: float | None  # None: no series yet (no item, or an item of the older format)
    # Counts the series: a condition on it never mistakes a later series for the one read
    # (ABA). A new series starts after the next slot of the one it replaces, so start and
    # tickets would do as well, but only as long as that rule holds.
    number: int
    before: tuple[float, ...]
    issued: int
    firsts: tuple[float, ...]
    first_end: int = 0
    first_until: float | None = None

    def slots(self, first: int, count: int, limits: PacingLimits) -> list[float]:
        """The slots of tickets first .. first + count - 1."""
        assert self.base is not None
        return next_slots(self.before, self.base, limits, first + count)[first:]

    def next_slot(self, limits: PacingLimits) -> float | None:
        return self.slots(self.issued, 1, limits)[0] if self.base is not None else None

    def recent(self, now: float, limits: PacingLimits) -> list[float]:
        """The slots, of this series and the one before, still inside a long window of `now`."""
        issued = self.slots(0, self.issued, limits) if self.base is not None else []
        return [at for at in [*self.before, *issued] if at > now - limits.long_window][-limits.per_minute :]

    def with_first(self, at: float, limits: PacingLimits) -> tuple[float, ...]:
        """The first contacts a new series keeps (the last `burst_firsts`), with one at `at`."""
        return (*self.firsts, at)[-limits.burst_firsts :]

    def last_first_slot(self, limits: PacingLimits) -> float | None:
        """The slot of the latest first contact, of this series or the one before (None: none)."""
        if self.base is None or self.first_end <= 0:
            return self.first_until
        return self.slots(self.first_end - 1, 1, limits)[0]


def series_of(item: Mapping[str, Any]) -> BudgetSeries:
    base = item.get("series_start", {}).get("N")
    until = item.get("first_until", {}).get("N")
    return BudgetSeries(
        base=float(base) if base is not None else None,
        number=int(item.get("series_no", {}).get("N", "0")),
        # `slots`: the reserved slots of the item's earlier format, the history a first series
        # must respect.
        before=tuple(float(value["N"]) for value in item.get("before", item.get("slots", {})).get("L", [])),
        issued=int(item.get("issued", {}).get("N", "0")),
        firsts=tuple(float(value["N"]) for value in item.get("firsts", {}).get("L", [])),
        first_end=int(item.get("first_end", {}).get("N", "0")),
        first_until=float(until) if until is not None else None,
    )


def number(at: float) -> dict[str, str]:
    """A time as the item stores it: to the millisecond."""
    return {"N": f"{at:.3f}"}
