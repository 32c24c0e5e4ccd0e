"""The three answers, how they are encoded in button ids, and how severe each is."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Choice(StrEnum):
    TEST = "test"
    MAINTENANCE = "maintenance"
    ENTRAPMENT = "entrapment"


# Order matters: SPEC §4 fixes Test, Maintenance, Entrapment (template indexes 0, 1, 2).
BUTTONS: tuple[tuple[Choice, str], ...] = (
    (Choice.TEST, "Test"),
    (Choice.MAINTENANCE, "Maintenance"),
    (Choice.ENTRAPMENT, "Entrapment"),
)

# Severity only rises: a "Test" tapped first must never hide a later "Entrapment".
SEVERITY: dict[Choice, int] = {Choice.TEST: 1, Choice.MAINTENANCE: 2, Choice.ENTRAPMENT: 3}

_BUTTON_PREFIX = "la1"
_BUTTON_ID = re.compile(r"^la1:([0-9a-f]{32}):(test|maintenance|entrapment)$")


@dataclass(frozen=True)
class ButtonRef:
    alert_id: str
    choice: Choice


def button_id(alert_id: str, choice: Choice) -> str:
    """Names the alert and the choice on its own, so a tap matches even without context.id."""
    return f"{_BUTTON_PREFIX}:{alert_id}:{choice.value}"


def parse_button_id(value: str | None) -> ButtonRef | None:
    if not value:
        return None
    match = _BUTTON_ID.match(value.strip())
    if match is None:
        return None
    return ButtonRef(alert_id=match.group(1), choice=Choice(match.group(2)))


# The entrapment confirmation's single YES button (SPEC §10): names the alert and the
# confirmation, never a choice, so it can never be read as Test, Maintenance or Entrapment.
_CONFIRM_SUFFIX = "confirm"
_CONFIRM_ID = re.compile(r"^la1:([0-9a-f]{32}):confirm$")
CONFIRM_LABEL = "YES"


def confirm_button_id(alert_id: str) -> str:
    return f"{_BUTTON_PREFIX}:{alert_id}:{_CONFIRM_SUFFIX}"


def parse_confirm_id(value: str | None) -> str | None:
    """The alert a YES button id (or quick-reply payload) names, or None for anything else."""
    if not value:
        return None
    match = _CONFIRM_ID.match(value.strip())
    return match.group(1) if match else None


def is_confirm_label(value: str | None) -> bool:
    """A static-payload quick reply that is just the label YES (any case, spaces ignored)."""
    return bool(value) and str(value).strip().casefold() == CONFIRM_LABEL.casefold()


# A template with static payloads sends the button's label as `button.payload` (SPEC §5, §6).
_CHOICE_BY_LABEL: dict[str, Choice] = {label.casefold(): choice for choice, label in BUTTONS}


def parse_button_label(value: str | None) -> Choice | None:
    """The choice a static-payload quick reply names: just a label, any case, spaces around ignored.

    It names no alert: the caller must take the alert from `context.id` and nowhere else.
    """
    if not value:
        return None
    return _CHOICE_BY_LABEL.get(value.strip().casefold())


def most_severe(choices: Iterable[str]) -> str | None:
    best: Choice | None = None
    for raw in choices:
        try:
            choice = Choice(raw)
        except ValueError:
            continue
        if best is None or SEVERITY[choice] > SEVERITY[best]:
            best = choice
    return best.value if best else None
