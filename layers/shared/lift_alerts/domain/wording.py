"""What the service says to people on WhatsApp (SPEC §10): pure functions, no I/O.

Each section belongs to one kind of message. Times shown to people are in the display time
zone (DISPLAY_TIMEZONE, e.g. `10:31 SAST`); the API and events keep UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lift_alerts.domain.choices import BUTTONS
from lift_alerts.domain.outbound import AlertFacts, template_param_text
from lift_alerts.domain.outbound import location as place

# -- shared: places, people, labels, times, template-safe text ------------------------------------

_LABELS: dict[str, str] = {choice.value: label for choice, label in BUTTONS}


def label(choice: str | None) -> str:
    """The button label a person saw for a choice ("Maintenance")."""
    if choice is None:
        return "none yet"
    return _LABELS.get(choice, choice)


def person(name: str | None, wa_id: str | None) -> str:
    """A person as others know them: their WhatsApp profile name, else their number."""
    if name and name.strip():
        return name.strip()
    if wa_id:
        return f"+{wa_id.lstrip('+')}"
    return "someone"


def display_time(moment: str | datetime | None, timezone: str) -> str | None:
    """`10:31 SAST`: the hour and minute in `timezone`, with its abbreviation (UTC ISO in)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%H:%M} {local.tzname()}"


# -- acknowledgements, outcome notices, critical messages (SPEC §10) --------------------------------


@dataclass(frozen=True)
class Answer:
    """One recorded tap, as people are told about it."""

    choice: str
    name: str | None
    wa_id: str | None
    at: str | None  # UTC ISO 8601

    @classmethod
    def of(cls, response: dict[str, Any]) -> Answer:
        responder = response.get("responder") or {}
        return cls(
            choice=str(response.get("choice")),
            name=responder.get("name"),
            wa_id=responder.get("wa_id"),
            at=response.get("responded_at"),
        )

    @property
    def who(self) -> str:
        return person(self.name, self.wa_id)

    def when(self, timezone: str) -> str:
        shown = display_time(self.at, timezone)
        return f" at {shown}" if shown else ""


def ack_text(
    alert: AlertFacts,
    tap: Answer,
    *,
    first: Answer | None,
    outcome: str | None,
    closed: bool,
    unanswered_at: str | None,
    timezone: str,
) -> str:
    """The acknowledgement of one recorded tap, to the person who tapped.

    `first` is the alert's first answer when this tap is not it; `outcome` the alert's
    outcome right after this tap; `closed` / `unanswered_at` the alert's state when it came.
    """
    lines = [f"Recorded: {label(tap.choice)} for ticket {alert.ticket_id} ({place(alert)})."]
    if first is not None:
        lines.append(f"{first.who} answered first: {label(first.choice)}{first.when(timezone)}.")
        lines.append(f"Outcome now: {label(outcome)}.")
    if closed:
        lines.append("This alert is already closed.")
    elif unanswered_at is not None:
        shown = display_time(unanswered_at, timezone)
        lines.append(f"This alert had been marked unanswered{f' at {shown}' if shown else ''}.")
    return "\n".join(lines)


def outcome_notice_text(alert: AlertFacts, answer: Answer, *, rose_from: str | None, timezone: str) -> str:
    """Tells everyone else messaged for the alert who answered and with what.

    `rose_from` is the outcome before, when this answer raised it (None for the first answer).
    """
    head = f"Ticket {alert.ticket_id} at {place(alert)}"
    answered = f"answered by {answer.who}: {label(answer.choice)}{answer.when(timezone)}"
    if rose_from is None:
        return f"{head}: {answered}."
    return f"{head}: the outcome rose from {label(rose_from)} to {label(answer.choice)}, {answered}."


def critical_text(alert: AlertFacts, reminders: int) -> str:
    """To everyone messaged when an alert becomes unanswered (SPEC §10, wording fixed there)."""
    return (
        f"CRITICAL: no response to {alert.ticket_id} at {place(alert)} after {reminders} "
        f"{'reminder' if reminders == 1 else 'reminders'}. Immediate action required."
    )


# -- acknowledgement of a reply that is not a tap ------------------------------------------------

REPLY_NOUNS = {
    "text": "message",
    "voice": "voice note",
    "audio": "audio",
    "image": "photo",
    "video": "video",
    "document": "document",
    "location": "location",
    "contacts": "contact card",
}


def reply_ack_text(*, reply_type: str, ticket_id: str, lift_id: str, site: str) -> str:
    """Tells the person their reply reached the people handling the alarm, and which one."""
    noun = REPLY_NOUNS.get(reply_type, "message")
    place = f"{lift_id} at {site}" if site else lift_id
    return f"Thank you. Your {noun} was passed on to the rescue desk for {ticket_id} ({place})."


# ---------------------------------------------------------------- entrapment confirmation


def meta_safe(text: str) -> str:
    """One line for a template body variable (Meta refuses newlines, tabs and more than four
    spaces in a row, 132018): the alert template's rule, in one place."""
    return template_param_text(text)


def entrapment_place(alert: AlertFacts) -> str:
    """`<site>, <lift> (floor <floor>)`, leaving out what the alert does not have."""
    place = ", ".join(part for part in (alert.site, alert.lift_id) if part)
    if alert.floor:
        place += f" (floor {alert.floor})"
    return place


def confirmation_question(alert: AlertFacts, *, reminder: tuple[int, int] | None = None) -> str:
    """The YES request (and its reminders, headed `REMINDER n/N`)."""
    lines = []
    if reminder is not None:
        lines.append(f"REMINDER {reminder[0]}/{reminder[1]}")
    lines.append(f"ENTRAPMENT - ticket {alert.ticket_id}")
    lines.append(f"Has the service provider been notified of the entrapment at {entrapment_place(alert)}?")
    lines.append("Tap YES once the service provider has been called.")
    return "\n".join(lines)


def provider_confirmed_notice(alert: AlertFacts, *, confirmed_by: str) -> str:
    """Everyone messaged, once the first YES came (the confirmer too: it is their receipt)."""
    return _confirmation_outcome(
        alert,
        "Service provider notified",
        lambda place: (
            f"{confirmed_by} confirmed the service provider was notified of the entrapment at {place}."
        ),
        "No more confirmation reminders will be sent; the alert is closed.",
    )


def confirmation_missed_notice(alert: AlertFacts, *, rounds: int) -> str:
    """Everyone messaged, when nobody tapped YES after the last reminder."""
    reminders = "reminder" if rounds == 1 else "reminders"
    return _confirmation_outcome(
        alert,
        "URGENT",
        lambda place: (
            f"Nobody confirmed that the service provider was notified of the entrapment at {place} "
            f"after {rounds} {reminders}."
        ),
        "Please follow up now: call the service provider and the rescue desk.",
    )


def _confirmation_outcome(alert: AlertFacts, heading: str, what: Callable[[str], str], next_step: str) -> str:
    """A notice about the confirmation's outcome: heading and ticket, what happened at the
    entrapment's place (`what(place)`), what happens next."""
    return "\n".join([f"{heading} - ticket {alert.ticket_id}", what(entrapment_place(alert)), next_step])


def later_yes_ack(alert: AlertFacts, *, confirmed_by: str) -> str:
    """A YES after the first one: recorded, nothing else changes."""
    return (
        f"Thank you, your YES for ticket {alert.ticket_id} is recorded. "
        f"{confirmed_by} had already confirmed the service provider was notified."
    )


def person_name(person: Mapping[str, object] | None) -> str:
    """How a responder is named to others: their WhatsApp name, else their number."""
    person = person or {}
    name = str(person.get("name") or "").strip()
    if name:
        return name
    wa_id = str(person.get("wa_id") or "").strip()
    return f"+{wa_id}" if wa_id else "Someone"
