"""What people read on WhatsApp besides the alert itself (SPEC §10): pure functions, one
section per flow, unit-tested without sockets."""

from __future__ import annotations

import re

from lift_alerts.outbound import AlertFacts

# ---------------------------------------------------------------- entrapment confirmation

_META_UNSAFE = re.compile(r"\s+")


def meta_safe(text: str) -> str:
    """One line for a template body variable: Meta refuses newlines, tabs and more than four
    spaces in a row (132018), so lines are joined with " · " and runs of spaces collapsed."""
    lines = [_META_UNSAFE.sub(" ", line).strip() for line in text.splitlines()]
    return " · ".join(line for line in lines if line)


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
    return "\n".join(
        [
            f"Service provider notified - ticket {alert.ticket_id}",
            f"{confirmed_by} confirmed the service provider was notified of the entrapment "
            f"at {entrapment_place(alert)}.",
            "No more confirmation reminders will be sent; the alert is closed.",
        ]
    )


def confirmation_missed_notice(alert: AlertFacts, *, rounds: int) -> str:
    """Everyone messaged, when nobody tapped YES after the last reminder."""
    reminders = "reminder" if rounds == 1 else "reminders"
    return "\n".join(
        [
            f"URGENT - ticket {alert.ticket_id}",
            f"Nobody confirmed that the service provider was notified of the entrapment at "
            f"{entrapment_place(alert)} after {rounds} {reminders}.",
            "Please follow up now: call the service provider and the rescue desk.",
        ]
    )


def later_yes_ack(alert: AlertFacts, *, confirmed_by: str) -> str:
    """A YES after the first one: recorded, nothing else changes."""
    return (
        f"Thank you, your YES for ticket {alert.ticket_id} is recorded. "
        f"{confirmed_by} had already confirmed the service provider was notified."
    )


def person_name(person: dict[str, object] | None) -> str:
    """How a responder is named to others: their WhatsApp name, else their number."""
    person = person or {}
    name = str(person.get("name") or "").strip()
    if name:
        return name
    wa_id = str(person.get("wa_id") or "").strip()
    return f"+{wa_id}" if wa_id else "Someone"
