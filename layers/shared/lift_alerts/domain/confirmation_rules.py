"""The entrapment confirmation's timing rules (SPEC §10): steps numbered like escalation rounds,
step 0 the request, 1..N the reminders, N + 1 the missed mark, each one wait after the last.
Pure."""

from __future__ import annotations

from typing import Literal

from lift_alerts.domain.alert_facts import outcome
from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.choices import Choice

StepKind = Literal["request", "reminder", "missed"]


# ---------------------------------------------------------------- rules (pure)


def step_kind(step: int, max_rounds: int) -> StepKind:
    if step == 0:
        return "request"
    return "reminder" if step <= max_rounds else "missed"


def step_due_at(requested_epoch: int, step: int, after_seconds: int) -> int:
    """Step s is due s waits after the request: reminders at 1..N waits, missed one wait later."""
    return requested_epoch + step * after_seconds


def became_entrapment(old: AlertItem, new: AlertItem) -> bool:
    entrapment = Choice.ENTRAPMENT.value
    return outcome(old.get("responses", [])) != entrapment and outcome(new.get("responses", [])) == entrapment
