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
its slot, then sends. A sender that wakes later than `late_by` after its slot must not send (it
could crowd the next window): it gives the slot back and reserves again (`woosh.client`).
No send capacity is lost (SPEC §11, §12): a slot taken and not used (a late wake-up, a ticket
that came too late for its caller, a send refused before it reached the Bridge or by the
Bridge's own rate limiter, which counts no refused request) is given back
(`give_back`): a new series starts whose history (`before`) leaves it out, so the windows count
it for no later ticket; tickets already handed out keep their times. What cannot be given back
(a crash keeps its slot: the safe side) is logged and counted as lost.

First contacts first (SPEC §11: one recipient of every waiting alarm before the second of
any). Slots are granted in the order reservations arrive, so with exactly 100 alarms at once
a single second recipient sent early pushes the 100th alarm's first recipient into the next
minute. So the item also keeps `firsts`, when the last alarms' first contacts were reserved
(`FIRSTS_KEPT` at most), and every other send gives way for `first_grace` (1 s at Woosh's
scale) after the last one, and while `burst_firsts` (3) of them fall within `burst_seconds`
(5 s): a lone alarm's other recipients go one grace after its first (two alarms at one site
too), while during a burst they wait until the alarms stop arriving and the last first
contact's slot has passed, and then take the slots left (`give_way_until`): a first contact
that woke late and gave its slot back takes it again before anyone else (`budget_item`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lift_alerts.domain.send_slots import (
    TIMER_SLACK_SECONDS,
    PacingLimits,
    Reservation,
    give_way_until,
    next_slots,
)
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.budget_item import BUDGET_KEY, FIRSTS_KEPT, BudgetSeries, number, series_of
from lift_alerts.store.table import Table, Written, conditional

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Tries of a give-back against reservations racing it; one that loses them all is lost capacity.
# During a mass alarm's posting a reservation lands every few tens of ms; in the benchmark a
# give-back lost 10 tries in a row (0.93 s) and its slot was lost.
GIVE_BACK_TRIES = 30


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
        series: BudgetSeries | None = None
        lead = 0.0
        while True:
            if series is None:
                asked = self._clock()
                series = self._read()
                lead = self._lead(self._clock() - asked)
            now = self._clock()
            last_first = series.last_first_slot(self.limits)
            if not first_contact and (until := give_way_until(series.firsts, now, self.limits, last_first)):
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
        self, series: BudgetSeries, wish: _Wish, now: float, lead: float, next_slot: float | None
    ) -> tuple[Reservation | None, BudgetSeries | None]:
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
        firsts = series.with_first(now, self.limits) if wish.first_contact else series.firsts
        first_end = len(granted) if wish.first_contact else 0
        written_, current = self._start_series(series, start, recent, len(granted), firsts, first_end)
        if not written_:
            self.conflicts += 1
            return None, current
        _report_series_start(start, now, lead, next_slot)
        next_free = next_slots([*recent, *granted], start, self.limits, 1)[0]
        return Reservation(tuple(granted), next_free, self.late_by), None

    def _in_this_series(
        self, series: BudgetSeries, wish: _Wish, now: float
    ) -> tuple[Reservation | None, BudgetSeries | None]:
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
            self.give_back(slots, "past before the answer came")
            return None, None
        granted = [at for at in slots if at <= wish.not_after]
        if len(granted) < len(slots):
            self.give_back(slots[len(granted) :], "after the caller's deadline")
        return Reservation(tuple(granted), next_free if granted else slots[0], self.late_by), None

    def give_back(self, slots: Sequence[float], why: str) -> None:
        """Slots taken and not used (module docstring): start a new series whose history leaves
        them out, so no later ticket's windows count them. Tried against the reservations that
        race it; what cannot be given back is lost capacity, logged and counted."""
        series: BudgetSeries | None = None
        round_trip = 0.0
        for _attempt in range(GIVE_BACK_TRIES):
            if series is None:
                asked = self._clock()
                series = self._read()
                round_trip = self._clock() - asked
            now = self._clock()
            recent = series.recent(now, self.limits)
            kept = [at for at in recent if not any(abs(at - given) < 0.0005 for given in slots)]
            if series.base is None or len(kept) == len(recent):
                return  # no window counts them any more: nothing to give back
            head = self.limits.series_head_seconds * self.limits.time_scale
            start = math.ceil((now + max(2 * self._lead(round_trip), head)) * 1000) / 1000
            asked = self._clock()
            written_, series = self._start_series(series, start, kept, 0, series.firsts, 0)
            if written_:
                count("SendSlotsGivenBack", len(recent) - len(kept))
                logger.info("send slots given back", extra={"slots": len(recent) - len(kept), "why": why})
                return
            # Lost to a reservation: the refusal returned the item as it is now, so the next try
            # is one round trip, not two (a read would widen the window the racers win in).
            round_trip = self._clock() - asked
            self.conflicts += 1
            self._sleep(random.uniform(0.001, 0.01))  # jitter, not security
        _report_lost(len(slots), why)

    def _lead(self, round_trip: float) -> float:
        """How far ahead a slot must be when it is taken to still be ahead when the answer
        arrives: two round trips of the last call to the table (a few ms against DynamoDB,
        much more against a loaded emulator), at most two short windows."""
        return min(max(0.0, 2 * round_trip), 2 * self.limits.short_window)

    def _read(self) -> BudgetSeries:
        return series_of(self._get(BUDGET_KEY) or {})

    def used_last_minute(self) -> int:
        """How many slots of Woosh's long window (60 s at this scale) are past: sends made or
        under way (slots given back are no longer in the series, SPEC §12)."""
        now = self._clock()
        return sum(1 for at in self._read().recent(now, self.limits) if at <= now)

    def _start_series(
        self,
        series: BudgetSeries,
        now: float,
        recent: list[float],
        count: int,
        firsts: tuple[float, ...],
        first_end: int,
    ) -> tuple[bool, BudgetSeries | None]:
        """Replace the series read by a new one from `now` with `count` tickets taken (the first
        `first_end` of them for first contacts); False and the item as it is now (when DynamoDB
        returned it) when the series changed meanwhile."""
        item: dict[str, Any] = {
            **BUDGET_KEY,
            "series_start": number(now),
            "series_no": {"N": str(series.number + 1)},
            "before": {"L": [number(at) for at in recent]},
            "issued": {"N": str(count)},
            "firsts": {"L": [number(at) for at in firsts]},
            "first_end": {"N": str(first_end)},
        }
        last_first = series.last_first_slot(self.limits)
        if last_first is not None:
            item["first_until"] = number(last_first)
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
        return False, series_of(result.before) if result.before else None

    def _take(
        self, series: BudgetSeries, count: int, first_at: float | None
    ) -> tuple[BudgetSeries | None, BudgetSeries | None]:
        """Take `count` tickets of the series read (one atomic ADD): the item after the ADD, or
        None and the item as it is now when another series has started meanwhile (or, when
        the first contacts were trimmed, another was added)."""
        assert series.base is not None
        sets: list[str] = []
        values: dict[str, Any] = {":count": {"N": str(count)}, ":series": {"N": str(series.number)}}
        condition = "series_no = :series"
        if first_at is not None:
            # The end of this series' first-contact tickets: `issued` is read before the ADD.
            sets.append("first_end = issued + :count")
        if first_at is not None and len(series.firsts) < FIRSTS_KEPT:
            # Remember this first contact (a new series keeps only the last `burst_firsts`).
            sets.append("firsts = list_append(if_not_exists(firsts, :none), :first)")
            values |= {":none": {"L": []}, ":first": {"L": [number(first_at)]}}
        elif first_at is not None:
            # The list is long: replace it by its last few and this one, only if no other first
            # contact was added since it was read (otherwise it is read again, like a new series).
            kept = series.with_first(first_at, self.limits)
            sets.append("firsts = :kept")
            condition += " AND size(firsts) = :known"
            values |= {":kept": {"L": [number(at) for at in kept]}, ":known": {"N": str(len(series.firsts))}}
        update = ("SET " + ", ".join(sets) + " " if sets else "") + "ADD issued :count"
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
            return None, series_of(result.before) if result.before else None
        return series_of(result.item.get("Attributes", {})), None


def _report_lost(slots: int, why: str) -> None:
    """Slots taken, never used and not given back are capacity lost for everyone: under a mass
    alarm one of them can push an alarm's first contact into the next minute, so each is
    logged and counted (SPEC §12)."""
    count("SendSlotsLost", slots)
    logger.warning("send slots lost", extra={"slots": slots, "why": why})


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
