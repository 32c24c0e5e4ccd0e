"""What the benchmarks read from the local stack's log (pure: text in, figures out).

The service logs one JSON object per line (Powertools). The benchmarks depend on three of
its lines only, by their `message` and fields (SPEC §11, §12):

- `{"message": "timed step ran", "step": <kind>, "alert_id": ..., "due_at": ...,
  "lateness_seconds": <float>}`: one per timed step, when its first send reached Woosh or
  its mark was written;
- `{"message": "send slots given back", "slots": <n>}` and `{"message": "send slots lost",
  "slots": <n>}`: send capacity reserved and not used, given back to the budget or lost.

It also counts, for information, `"send series started"` lines with `skipped_ms` > 0: a new
series of slots that replaced one whose next slot was still ahead, skipping the time between.

Percentiles are nearest-rank (the smallest value with at least p % of the values at or
below it): never interpolated, so p99 of fewer than 100 steps is their maximum, and a
figure is always a lateness that some step really had.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

TIMED_STEP = "timed step ran"
SLOTS_GIVEN_BACK = "send slots given back"
SLOTS_LOST = "send slots lost"
# A new series of send slots that replaced one whose next slot was still ahead skipped the time
# in between (`skipped_ms`): capacity lost too, though no slot was taken (a WARNING line).
SERIES_STARTED = "send series started"
# The kinds the service names (lift_alerts.domain.step_timing.StepKind), in the order a
# report lists them; a kind the bench does not know yet is listed after these.
KIND_ORDER = (
    "reminder",
    "due_at_once",
    "unanswered",
    "confirmation_request",
    "confirmation_reminder",
    "confirmation_missed",
)


def json_records(text: str) -> Iterator[dict[str, Any]]:
    """Every line of `text` that is one JSON object (the stack's own lines, tracebacks and
    anything else are skipped)."""
    for line in text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


@dataclass(frozen=True)
class StepRun:
    """One timed step as the service logged it."""

    kind: str
    alert_id: str
    lateness_seconds: float
    due_at: str = ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def timed_steps(text: str, alert_ids: Collection[str] | None = None) -> tuple[list[StepRun], int]:
    """The "timed step ran" lines of `text` (only those of `alert_ids` when given), and how
    many lines named a timed step but were not JSON or lacked a kind, an alert or a numeric
    lateness (a format change shows here instead of as fewer steps)."""
    steps: list[StepRun] = []
    malformed = 0
    for line in text.splitlines():
        if TIMED_STEP not in line:
            continue
        record = next(json_records(line), None)
        if record is None or record.get("message") != TIMED_STEP:
            malformed += record is None
            continue
        kind, alert_id = record.get("step"), record.get("alert_id")
        late = _number(record.get("lateness_seconds"))
        if not isinstance(kind, str) or not isinstance(alert_id, str) or late is None:
            malformed += 1
            continue
        if alert_ids is None or alert_id in alert_ids:
            steps.append(StepRun(kind, alert_id, late, str(record.get("due_at", ""))))
    return steps, malformed


def slot_lines(text: str) -> dict[str, int]:
    """Send slots given back and lost: the lines and the slots they name (`slots`, 1 when a
    line names none); and new series that skipped time (`skipped_ms` > 0), with the ms skipped."""
    counts = {
        "given_back_lines": 0,
        "given_back_slots": 0,
        "lost_lines": 0,
        "lost_slots": 0,
        "series_skipped_lines": 0,
        "series_skipped_ms": 0,
    }
    for record in json_records(text):
        message = record.get("message")
        if message == SERIES_STARTED:
            skipped = _number(record.get("skipped_ms"))
            if skipped is not None and skipped > 0:
                counts["series_skipped_lines"] += 1
                counts["series_skipped_ms"] += round(skipped)
            continue
        if message not in (SLOTS_GIVEN_BACK, SLOTS_LOST):
            continue
        slots = _number(record.get("slots"))
        prefix = "given_back" if message == SLOTS_GIVEN_BACK else "lost"
        counts[f"{prefix}_lines"] += 1
        counts[f"{prefix}_slots"] += int(slots) if slots is not None else 1
    return counts


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile: the ceil(p/100 x n)-th smallest value (p in (0, 100])."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} outside (0, 100]")
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def summary(values: Collection[float]) -> dict[str, Any]:
    """count, p50, p99 and max (seconds, rounded to the ms); None for each when empty."""
    if not values:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


def ordered_kinds(kinds: Iterable[str]) -> list[str]:
    """The kinds in KIND_ORDER first, any other after them alphabetically."""
    seen = set(kinds)
    return [k for k in KIND_ORDER if k in seen] + sorted(seen - set(KIND_ORDER))


def lateness_by_kind(steps: Iterable[StepRun]) -> dict[str, list[float]]:
    """Each kind's latenesses, sorted, kinds in report order."""
    grouped: dict[str, list[float]] = {}
    for step in steps:
        grouped.setdefault(step.kind, []).append(step.lateness_seconds)
    return {kind: sorted(grouped[kind]) for kind in ordered_kinds(grouped)}
