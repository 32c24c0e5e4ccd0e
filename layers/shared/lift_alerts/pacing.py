"""One send budget for the whole service (SPEC §11): Woosh allows 10 messages a second and
100 in any 60 seconds per API key, counted over every function instance together.

The budget is one item of the alerts table (`budget#woosh`): the times of the last reserved
send slots (at most `per_minute` of them, oldest first) and a version. A reservation reads it
consistently, computes the earliest slots the limits allow (`next_slots`, pure) and writes
them back with a conditional update on the version, retrying on conflict. DynamoDB's
per-item conditional writes make this correct at any concurrency, with no server of our own;
each reservation costs one strongly consistent read and one write of a ~2 KB item.

Slots are wall-clock times (epoch seconds): every instance shares them. A sender sleeps until
its slot, then sends; a slot that is not used (the send gave up) is simply lost capacity.

First contacts first (SPEC §11: one recipient of every waiting alarm before the second of
any). Slots are granted in the order reservations arrive, so with exactly 100 alarms at once
a single second recipient sent early pushes the 100th alarm's first recipient into the next
minute. So the item also keeps `firsts`, when the last alarms' first contacts were reserved,
and every other send gives way for `first_grace` (1 s at Woosh's scale) after the last one,
and while `burst_firsts` (3) of them fall within `burst_seconds` (5 s): a lone alarm's other
recipients go one grace after its first (two alarms at one site too), while during a burst
they wait until the alarms stop arriving and then take the slots left (`give_way_until`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lift_alerts.config import number_env
from lift_alerts.table import Table, Written, written

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUDGET_KEY = {"pk": {"S": "budget#woosh"}}


@dataclass(frozen=True)
class PacingLimits:
    """Woosh's limits as the service applies them to itself.

    `time_scale` shrinks both windows (tests and the benchmark run against a stand-in whose
    limits are scaled the same way); `guard_seconds` is added to each window so that network
    jitter between two sends a window apart cannot make Woosh count them in one window.
    """

    per_second: int = 10
    per_minute: int = 100
    time_scale: float = 1.0
    guard_seconds: float = 0.05
    # How long other sends give way after an alarm's first contact was reserved (module
    # docstring), at Woosh's scale: alarms of one burst arrive well within a second of each other.
    first_grace_seconds: float = 1.0
    # This many first contacts this close together are a burst: more alarms are likely to follow.
    burst_firsts: int = 3
    burst_seconds: float = 5.0

    @property
    def short_window(self) -> float:
        return 1.0 * self.time_scale + self.guard_seconds

    @property
    def long_window(self) -> float:
        return 60.0 * self.time_scale + self.guard_seconds

    @property
    def first_grace(self) -> float:
        return self.first_grace_seconds * self.time_scale

    @property
    def burst_window(self) -> float:
        return self.burst_seconds * self.time_scale

    @classmethod
    def from_env(cls) -> PacingLimits:
        """WOOSH_RATE_PER_SECOND (10), WOOSH_RATE_PER_MINUTE (100), WOOSH_RATE_TIME_SCALE (1),
        WOOSH_RATE_GUARD_MS (50), WOOSH_FIRST_GRACE_MS (1000)."""
        return cls(
            per_second=int(_env("WOOSH_RATE_PER_SECOND", 10, 1, 1000)),
            per_minute=int(_env("WOOSH_RATE_PER_MINUTE", 100, 1, 10_000)),
            time_scale=_env("WOOSH_RATE_TIME_SCALE", 1.0, 0.001, 100.0),
            guard_seconds=_env("WOOSH_RATE_GUARD_MS", 50, 0, 5000) / 1000,
            first_grace_seconds=_env("WOOSH_FIRST_GRACE_MS", 1000, 0, 10_000) / 1000,
        )


def _env(name: str, default: float, low: float, high: float) -> float:
    """Any number (a fraction of a millisecond or a scale too); a bad one is a ValueError."""
    return number_env(name, float(default), float(low), float(high), error=ValueError)


def next_slots(slots: Sequence[float], now: float, limits: PacingLimits, count: int) -> list[float]:
    """The earliest `count` send times after `slots` (reserved times, oldest first) that keep
    at most `per_second` in any short window and `per_minute` in any long window.

    Each new slot is at or after the last one (the list stays sorted), at or after `now`,
    a short window after the `per_second`-th last slot and a long window after the
    `per_minute`-th last slot.
    """
    taken = list(slots)
    fresh: list[float] = []
    for _ in range(count):
        at = max(now, taken[-1]) if taken else now
        if len(taken) >= limits.per_second:
            at = max(at, taken[-limits.per_second] + limits.short_window)
        if len(taken) >= limits.per_minute:
            at = max(at, taken[-limits.per_minute] + limits.long_window)
        at = math.ceil(at * 1000) / 1000  # stored to the millisecond, never earlier
        taken.append(at)
        fresh.append(at)
    return fresh


def give_way_until(firsts: Sequence[float], now: float, limits: PacingLimits) -> float | None:
    """Until when a send that is not an alarm's first contact must wait before reserving, or
    None. `firsts`: when the latest first contacts were reserved, oldest first (the module
    docstring has the rule)."""
    ends = [at + limits.first_grace for at in firsts[-1:]]
    if len(firsts) >= limits.burst_firsts:
        ends.append(firsts[-limits.burst_firsts] + limits.burst_window)
    until = max(ends, default=now)
    return until if until > now else None


@dataclass(frozen=True)
class Reservation:
    """Send times granted (epoch seconds, ascending; fewer than asked when the rest would be
    later than `not_after`), and when the first slot not granted would have been."""

    slots: tuple[float, ...]
    next_free: float


class SendBudget(Table):
    """Reserves send slots in the shared budget item (see the module docstring)."""

    def __init__(
        self,
        table_name: str,
        limits: PacingLimits | None = None,
        dynamodb: DynamoDBClient | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(table_name, dynamodb)
        self.limits = limits or PacingLimits.from_env()
        self._clock = clock
        self._sleep = sleep
        self.conflicts = 0  # lost races on the version (for tests and logs)

    def reserve(
        self, count: int, *, not_after: float, first_contact: bool = False, patient: bool = True
    ) -> Reservation:
        """Reserve up to `count` slots no later than `not_after` (epoch seconds).

        `first_contact`: these are alarms' first recipients; they never give way and make every
        other send give way for the grace (module docstring). Any other reservation first waits
        while first contacts keep arriving: until `not_after` when `patient`, else for one grace
        at most, then it gets nothing (its caller queues it, and the queue's order decides)."""
        started = self._clock()
        pause = 0.01
        while True:
            slots, version, firsts = self._read()
            now = self._clock()
            if not first_contact and (until := give_way_until(firsts, now, self.limits)) is not None:
                if until > (not_after if patient else min(not_after, started + self.limits.first_grace)):
                    return Reservation((), until)
                self._sleep(until - now + random.uniform(0.001, 0.01))  # jitter, not security
                continue
            wanted = next_slots(slots, now, self.limits, count)
            granted = [at for at in wanted if at <= not_after]
            if not granted:
                return Reservation((), wanted[0])
            next_free = next_slots([*slots, *granted], now, self.limits, 1)[0]
            kept = [*slots, *granted][-self.limits.per_minute :]
            remembered = [*firsts, now][-self.limits.burst_firsts :] if first_contact else firsts
            if self._write(kept, version, remembered):
                return Reservation(tuple(granted), next_free)
            self.conflicts += 1
            if self._clock() > not_after:
                return Reservation((), not_after)
            # Another instance reserved first: read again after a random pause that grows with
            # each lost race, so a hundred instances at once do not keep colliding.
            self._sleep(random.uniform(0.002, pause))  # jitter, not security
            pause = min(pause * 2, 0.32)

    def _read(self) -> tuple[list[float], int, list[float]]:
        item = self._db.get_item(TableName=self.table_name, Key=BUDGET_KEY, ConsistentRead=True).get("Item")
        if not item:
            return [], 0, []
        slots = [float(value["N"]) for value in item.get("slots", {}).get("L", [])]
        firsts = [float(value["N"]) for value in item.get("firsts", {}).get("L", [])]
        return slots, int(item.get("version", {}).get("N", "0")), firsts

    def _write(self, slots: list[float], version: int, firsts: list[float]) -> bool:
        item: dict[str, Any] = {
            **BUDGET_KEY,
            "slots": {"L": [{"N": f"{at:.3f}"} for at in slots]},
            "version": {"N": str(version + 1)},
        }
        if firsts:
            item["firsts"] = {"L": [{"N": f"{at:.3f}"} for at in firsts]}
        # Not written: another instance reserved first (the version moved on).
        result = written(
            lambda: self._db.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR version = :v",
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        )
        return isinstance(result, Written)
