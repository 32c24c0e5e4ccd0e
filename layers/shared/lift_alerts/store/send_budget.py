"""One send budget for the whole service (SPEC §11): Woosh allows 10 messages a second and
100 in any 60 seconds per API key, counted over every function instance together.

The budget is one item of the alerts table (`budget#woosh`) holding a *series* of send slots:
its number and start (`series_no`, `series_start`), the slots still inside a long window of
that start from the series before (`before`), and how many tickets it has handed out
(`issued`). Ticket k's slot is the k-th of `next_slots(before, series_start, ...)`: the
earliest times the limits allow, a pure function of the item, so every instance computes the
same slot for the same ticket. A reservation reads the item and takes its tickets with ONE
atomic `ADD issued :count` (conditional only on the series still being the one it read): a
hundred instances reserving at once each get distinct tickets at the first try, instead of
colliding on a version and retrying one by one (100 reservations at once took 20 s that way
against moto, with 1322 lost races). Slots are evenly spaced (`spacing_seconds`), so the next
one is always just ahead of the last. When the next ticket's slot is too close to be taken
in time (`lead`: two round trips of the last call) or already past (the budget was idle),
the series is stale and a reservation starts a new one `2 x lead` from now with a conditional
put on the series it read (its number and `issued`), carrying the slots of the last long
window over in `before`; one such put wins, the others take tickets in the new series.
DynamoDB's per-item atomic updates make this correct at any concurrency, with no server of
our own.

Slots are wall-clock times (epoch seconds): every instance shares them. A sender sleeps until
its slot, then sends; a slot that is not used (the send gave up, or a ticket came too late for
its caller's deadline) is simply lost capacity. A sender that wakes later than `late_by` after
its slot must not send (it could crowd the next window): it reserves again (`woosh.client`).

First contacts first (SPEC §11: one recipient of every waiting alarm before the second of
any). Slots are granted in the order reservations arrive, so with exactly 100 alarms at once
a single second recipient sent early pushes the 100th alarm's first recipient into the next
minute. So the item also keeps `firsts`, when the last alarms' first contacts were reserved
(`FIRSTS_KEPT` at most), and every other send gives way for `first_grace` (1 s at Woosh's
scale) after the last one, and while `burst_firsts` (3) of them fall within `burst_seconds`
(5 s): a lone alarm's other recipients go one grace after its first (two alarms at one site
too), while during a burst they wait until the alarms stop arriving and then take the slots
left (`give_way_until`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lift_alerts.domain.send_slots import (
    TIMER_SLACK_SECONDS,
    PacingLimits,
    Reservation,
    give_way_until,
    next_slots,
)
from lift_alerts.platform.observability import logger
from lift_alerts.store.table import Table, Written, conditional

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUDGET_KEY = {"pk": {"S": "budget#woosh"}}
# At most this many first-contact times stay on the budget item (`give_way_until` reads the
# last `burst_firsts`): every reservation reads the whole item, and while a series lasts (as
# long as sends keep coming) the list would otherwise grow by one per alarm, towards
# DynamoDB's 400 KB item limit, past which no reservation could be written at all.
FIRSTS_KEPT = 32


@dataclass(frozen=True)
class _Series:
    """The budget item as read: the current series of slots (module docstring)."""

    base: float | None  # None: no series yet (no item, or an item of the older format)
    # Counts the series: a condition on it never mistakes a later series for the one read
    # (ABA). A new series starts after the next slot of the one it replaces, so start and
    # tickets would do as well, but only as long as that rule holds.
    number: int
    before: tuple[float, ...]
    issued: int
    firsts: tuple[float, ...]

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


@dataclass(frozen=True)
class _Wish:
    """One call of `SendBudget.reserve`: how many slots, by when, and how it ranks."""

    count: int
    not_after: float
    first_contact: bool
    patient: bool
    started: float

    def give_way_limit(self, limits: PacingLimits) -> float:
        """How long a send that is not a first contact may wait for first contacts to stop:
        until its deadline when patient, else one grace at most (then it is queued)."""
        return self.not_after if self.patient else min(self.not_after, self.started + limits.first_grace)


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
        # Reservations whose series changed between read and write (another instance reserved
        # meanwhile), and of those the writes that did not apply or came too late (retried).
        self.conflicts = 0
        self.retries = 0

    @property
    def late_by(self) -> float:
        """Half the guard (a send that late is still a window apart from the next ones; the
        other half is for the network), plus what a timer oversleeps on an idle host."""
        return self.limits.guard_seconds / 2 + TIMER_SLACK_SECONDS

    def reserve(
        self, count: int, *, not_after: float, first_contact: bool = False, patient: bool = True
    ) -> Reservation:
        """Reserve up to `count` slots no later than `not_after` (epoch seconds).

        `first_contact`: these are alarms' first recipients; they never give way and make every
        other send give way for the grace (module docstring). Any other reservation first waits
        while first contacts keep arriving: until `not_after` when `patient`, else for one grace
        at most, then it gets nothing (its caller queues it, and the queue's order decides)."""
        wish = _Wish(count, not_after, first_contact, patient, started=self._clock())
        series: _Series | None = None
        lead = 0.0
        while True:
            if series is None:
                asked = self._clock()
                series = self._read()
                lead = self._lead(self._clock() - asked)
            now = self._clock()
            if not first_contact and (until := give_way_until(series.firsts, now, self.limits)) is not None:
                if until > wish.give_way_limit(self.limits):
                    return Reservation((), until)
                self._sleep(until - now + random.uniform(0.001, 0.01))  # jitter, not security
                series = None
                continue
            next_slot = series.next_slot(self.limits)
            asked = self._clock()
            if next_slot is None or next_slot < now + lead:
                granted, series = self._in_a_new_series(series, wish, now, lead, next_slot)
            elif next_slot > not_after:
                return Reservation((), next_slot)
            else:
                granted, series = self._in_this_series(series, wish, now)
            if granted is not None:
                return granted
            lead = self._lead(self._clock() - asked)
            self.retries += 1
            if self._clock() > not_after:
                return Reservation((), not_after)

    def _in_a_new_series(
        self, series: _Series, wish: _Wish, now: float, lead: float, next_slot: float | None
    ) -> tuple[Reservation | None, _Series | None]:
        """The series read is stale (or there is none yet): start a new one with this wish's
        tickets taken. The reservation, or None and the series as it is now (None: read it)."""
        # Twice `lead` from now, or the series head if longer (to the millisecond, as stored).
        # Twice: the instances racing this write learn of the new series a round trip later and
        # then judge it by their own `lead`; a series started only `lead` ahead looked stale to
        # them in turn, and under load each restarted it again (a storm: 472 writes tried again
        # for 100 reservations, and every restart skips slots).
        head = self.limits.series_head_seconds * self.limits.time_scale
        start = math.ceil((now + max(2 * lead, head)) * 1000) / 1000
        recent = series.recent(now, self.limits)
        wanted = next_slots(recent, start, self.limits, wish.count)
        granted = [at for at in wanted if at <= wish.not_after]
        if not granted:
            return Reservation((), wanted[0]), None
        firsts = self._firsts(series, now, wish.first_contact)
        written_, current = self._start_series(series, start, recent, len(granted), firsts)
        if not written_:
            self.conflicts += 1
            return None, current
        _report_series_start(start, now, lead, next_slot)
        next_free = next_slots([*recent, *granted], start, self.limits, 1)[0]
        return Reservation(tuple(granted), next_free, self.late_by), None

    def _in_this_series(
        self, series: _Series, wish: _Wish, now: float
    ) -> tuple[Reservation | None, _Series | None]:
        """Take this wish's tickets in the series read (one atomic ADD). The reservation, or None
        and the series as it is now (None: read it; the tickets came too late to be used)."""
        read_issued = series.issued
        taken, current = self._take(series, wish.count, now if wish.first_contact else None)
        if taken is None or taken.issued - wish.count != read_issued:
            self.conflicts += 1  # raced: served at once by the ADD unless a series began
        if taken is None:
            return None, current
        # The tickets' slots and the one after them, from one pass over the series.
        *slots, next_free = taken.slots(taken.issued - wish.count, wish.count + 1, self.limits)
        if slots[0] < self._clock() - self.late_by:
            _report_unused(wish.count, "past before the answer came")
            return None, None  # the answer came after the tickets' time: they are lost
        granted = [at for at in slots if at <= wish.not_after]
        _report_unused(wish.count - len(granted), "after the caller's deadline")
        return Reservation(tuple(granted), next_free if granted else slots[0], self.late_by), None

    def _lead(self, round_trip: float) -> float:
        """How far ahead a slot must be when it is taken to still be ahead when the answer
        arrives: two round trips of the last call to the table (a few ms against DynamoDB,
        much more against a loaded emulator), at most two short windows."""
        return min(max(0.0, 2 * round_trip), 2 * self.limits.short_window)

    def _firsts(self, series: _Series, now: float, first_contact: bool) -> tuple[float, ...]:
        if not first_contact:
            return series.firsts
        return (*series.firsts, now)[-self.limits.burst_firsts :]

    def _read(self) -> _Series:
        return _series(self._get(BUDGET_KEY) or {})

    def _start_series(
        self, series: _Series, now: float, recent: list[float], count: int, firsts: tuple[float, ...]
    ) -> tuple[bool, _Series | None]:
        """Replace the series read by a new one from `now` with `count` tickets taken; False and
        the item as it is now (when DynamoDB returned it) when the series changed meanwhile."""
        item: dict[str, Any] = {
            **BUDGET_KEY,
            "series_start": _number(now),
            "series_no": {"N": str(series.number + 1)},
            "before": {"L": [_number(at) for at in recent]},
            "issued": {"N": str(count)},
            "firsts": {"L": [_number(at) for at in firsts]},
        }
        if series.base is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(series_no)"}
        else:
            condition = {
                "ConditionExpression": "series_no = :series AND issued = :issued",
                "ExpressionAttributeValues": {
                    ":series": {"N": str(series.number)},
                    ":issued": {"N": str(series.issued)},
                },
            }
        result = conditional(
            lambda: self._db.put_item(
                TableName=self.table_name,
                Item=item,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition,
            )
        )
        if isinstance(result, Written):
            return True, None
        return False, _series(result.before) if result.before else None

    def _take(
        self, series: _Series, count: int, first_at: float | None
    ) -> tuple[_Series | None, _Series | None]:
        """Take `count` tickets of the series read (one atomic ADD): the item after the ADD, or
        None and the item as it is now when another series has started meanwhile (or, when
        the first contacts were trimmed, another was added)."""
        assert series.base is not None
        update = "ADD issued :count"
        values: dict[str, Any] = {":count": {"N": str(count)}, ":series": {"N": str(series.number)}}
        condition = "series_no = :series"
        if first_at is not None and len(series.firsts) < FIRSTS_KEPT:
            # Remember this first contact (a new series keeps only the last `burst_firsts`).
            update = "SET firsts = list_append(if_not_exists(firsts, :none), :first) " + update
            values |= {":none": {"L": []}, ":first": {"L": [_number(first_at)]}}
        elif first_at is not None:
            # The list is long: replace it by its last few and this one, only if no other first
            # contact was added since it was read (otherwise it is read again, like a new series).
            kept = self._firsts(series, first_at, first_contact=True)
            update = "SET firsts = :kept " + update
            condition += " AND size(firsts) = :known"
            values |= {":kept": {"L": [_number(at) for at in kept]}, ":known": {"N": str(len(series.firsts))}}
        # The ticket count after the ADD comes back with the item; a failed condition returns
        # the item as it is now (the series that replaced the one read), so the caller needs no
        # second read.
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": BUDGET_KEY,
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        result = conditional(lambda: self._db.update_item(**request))
        if not isinstance(result, Written):
            return None, _series(result.before) if result.before else None
        return _series(result.item.get("Attributes", {})), None


def _report_unused(tickets: int, why: str) -> None:
    """Slots taken and never used are capacity lost for everyone: under a mass alarm one of
    them can push an alarm's first contact into the next minute, so each is logged."""
    if tickets > 0:
        logger.warning("send slots taken but not used", extra={"tickets": tickets, "why": why})


def _report_series_start(start: float, now: float, lead: float, replaced_next: float | None) -> None:
    """A new series is logged (rare: after the budget went idle, or under load). One that
    replaced a series whose next slot was still ahead skipped the time in between: capacity
    lost like an unused slot (under a mass alarm it delays every later first contact), so
    that one is a warning with the time it skipped."""
    skipped = start - replaced_next if replaced_next is not None and replaced_next > now else 0.0
    (logger.warning if skipped > 0 else logger.info)(
        "send series started",
        extra={
            "starts_in_ms": round((start - now) * 1000, 1),
            "lead_ms": round(lead * 1000, 1),
            "skipped_ms": round(skipped * 1000, 1),
        },
    )


def _series(item: Mapping[str, Any]) -> _Series:
    base = item.get("series_start", {}).get("N")
    return _Series(
        base=float(base) if base is not None else None,
        number=int(item.get("series_no", {}).get("N", "0")),
        # `slots`: the reserved slots of the item's earlier format, the history a first series
        # must respect.
        before=tuple(float(value["N"]) for value in item.get("before", item.get("slots", {})).get("L", [])),
        issued=int(item.get("issued", {}).get("N", "0")),
        firsts=tuple(float(value["N"]) for value in item.get("firsts", {}).get("L", [])),
    )


def _number(at: float) -> dict[str, str]:
    return {"N": f"{at:.3f}"}
