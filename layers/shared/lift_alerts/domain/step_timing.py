"""When a timed step's wake-up is sent, and how late a step ran (SPEC §12). Pure.

Every timed step (an escalation round, the unanswered mark, a step brought forward because
every delivery of the latest round failed, a confirmation request, reminder or missed mark)
gets a wake-up: an SQS message delayed until the step is due. SQS delays a message by whole
seconds and at most 15 minutes, so the delay is the whole seconds until due, rounded down (the
consumer waits out the fraction), and a longer wait is a chain: a wake-up that arrives early
sends the next one with the rest of the wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# SQS's own limit for DelaySeconds.
MAX_DELAY_SECONDS = 900
# A wake-up that arrives at most this long before its step is due waits for it rather than
# sending another (whole-second delays leave a fraction of a second; clocks differ a little).
WAIT_AT_MOST_SECONDS = 2.0


class StepKind(StrEnum):
    """The kinds of timed step, as logs and metrics name them (lateness is counted per kind)."""

    REMINDER = "reminder"  # an escalation round, due n x after_seconds after creation
    DUE_AT_ONCE = "due_at_once"  # the step after a round whose every delivery failed
    UNANSWERED = "unanswered"  # the unanswered mark after the last round
    CONFIRMATION_REQUEST = "confirmation_request"
    CONFIRMATION_REMINDER = "confirmation_reminder"
    CONFIRMATION_MISSED = "confirmation_missed"


class StepSeries(StrEnum):
    """Which series of timed steps of an alert a wake-up is for (escalation, SPEC §9; the
    entrapment confirmation, SPEC §10: each has its sparse due index)."""

    ESCALATION = "escalation"
    CONFIRMATION = "confirmation"


def wake_up_delay(due_at: float, now: float) -> int:
    """The DelaySeconds of a wake-up for a step due at `due_at` (epoch seconds): the whole
    seconds until then, 0 when due already, at most SQS's 900 (a longer wait is chained)."""
    return min(MAX_DELAY_SECONDS, max(0, math.floor(due_at - now)))


@dataclass(frozen=True)
class WakeUp:
    """One wake-up's message: the alert, which series of its steps, and when the step is due."""

    alert_id: str
    series: StepSeries
    due_at: float

    def body(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "series": self.series.value, "due_at": self.due_at}

    @classmethod
    def of(cls, body: Any) -> WakeUp | None:
        """The wake-up a message carries, or None for a body that is not one (nothing to do)."""
        if not isinstance(body, dict):
            return None
        alert_id, series, due_at = body.get("alert_id"), body.get("series"), body.get("due_at")
        if not isinstance(alert_id, str) or series not in set(StepSeries) or isinstance(due_at, bool):
            return None
        if not isinstance(due_at, int | float) or not math.isfinite(due_at):
            return None
        return cls(alert_id, StepSeries(series), float(due_at))

    def early_by(self, now: float) -> float:
        """How long before its step is due this wake-up arrived (0 or less: due now)."""
        return self.due_at - now

    def needs_another(self, now: float) -> bool:
        """Arrived too early to wait here (a chained wait past 900 s): send the next one."""
        return self.early_by(now) > WAIT_AT_MOST_SECONDS


def lateness(due_at: float, ran_at: float) -> float:
    """Seconds from a step's due time to its first send or mark (never negative: a step is
    never run before it is due)."""
    return max(0.0, round(ran_at - due_at, 3))
