"""The WhatsApp message an alert sends: text, buttons, and the Woosh request body (SPEC §5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from lift_alerts.domain.choices import BUTTONS, button_id
from lift_alerts.platform.config import TEMPLATE_PARAM_NAMES


class AlertFacts(Protocol):
    @property
    def ticket_id(self) -> str: ...
    @property
    def lift_id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def floor(self) -> str: ...
    @property
    def note(self) -> str: ...


def heading(reminder: tuple[int, int] | None) -> str:
    return f"REMINDER {reminder[0]}/{reminder[1]}" if reminder is not None else "LIFT ALARM"


def alert_text(alert: AlertFacts, *, reminder: tuple[int, int] | None = None) -> str:
    lines = []
    if reminder is not None:
        lines.append(heading(reminder))
    lines.append(f"LIFT ALARM - ticket {alert.ticket_id}")
    if alert.site:
        lines.append(f"Site: {alert.site}")
    lift = f"Lift: {alert.lift_id}"
    if alert.floor:
        lift += f", floor {alert.floor}"
    lines.append(lift)
    if alert.note:
        lines.append(f"Note: {alert.note}")
    lines.append("What is it? Tap Test, Maintenance or Entrapment.")
    return "\n".join(lines)


def interactive_body(to: str, text: str, alert_id: str) -> dict[str, Any]:
    """The alert's three buttons: Test, Maintenance, Entrapment, each naming the alert."""
    return buttons_body(to, text, [(button_id(alert_id, choice), title) for choice, title in BUTTONS])


def buttons_body(to: str, text: str, buttons: list[tuple[str, str]]) -> dict[str, Any]:
    """An interactive message with reply buttons, given as (id, title)."""
    return {
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": text},
            "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in buttons]},
        },
    }


def text_body(to: str, text: str) -> dict[str, Any]:
    """A plain text message (inside the 24-hour window only), as the Bridge documents it:
    `{to, text}` with the text a string (SPEC §5)."""
    return {"to": to, "text": text}


def text_template_body(
    to: str, *, name: str, language: str, text: str, buttons: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    """A template with one body variable, `text` made safe for Meta (`template_param_text`),
    and any button components after it."""
    body = {"type": "body", "parameters": [{"type": "text", "text": template_param_text(text)}]}
    return {
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": language}, "components": [body, *buttons]},
    }


def location(alert: AlertFacts) -> str:
    """Site, lift and floor as one phrase: "Sandton Office Park, LIFT-A, floor 3"."""
    parts = [alert.site, alert.lift_id, f"floor {alert.floor}" if alert.floor else ""]
    return ", ".join(part for part in parts if part)


# What may fill a template's body variables (ALERT_TEMPLATE_PARAMS, SPEC §5), by name.
_TEMPLATE_VALUES: dict[str, Callable[[AlertFacts, tuple[int, int] | None], str]] = {
    "heading": lambda _alert, reminder: heading(reminder),
    "ticket_id": lambda alert, _reminder: alert.ticket_id,
    "site": lambda alert, _reminder: alert.site,
    "lift_id": lambda alert, _reminder: alert.lift_id,
    "floor": lambda alert, _reminder: alert.floor,
    "note": lambda alert, _reminder: alert.note,
    "location": lambda alert, _reminder: location(alert),
    "text": lambda alert, reminder: alert_text(alert, reminder=reminder),
}
# The configuration validates ALERT_TEMPLATE_PARAMS against the names it knows: the same names.
if tuple(_TEMPLATE_VALUES) != TEMPLATE_PARAM_NAMES:
    raise RuntimeError("domain.outbound renders other template parameters than the configuration knows")
_WHITESPACE = re.compile(r"\s+")


def template_param_text(value: str) -> str:
    """A value Meta accepts as a template parameter.

    Meta refuses (132018) a parameter with a newline, a tab or more than four spaces in a row,
    and an empty one: lines are joined with " · ", every run of whitespace becomes one space,
    and nothing at all becomes "-".
    """
    lines = (_WHITESPACE.sub(" ", line).strip() for line in value.splitlines())
    return " · ".join(line for line in lines if line) or "-"


def template_params(
    alert: AlertFacts, params: tuple[str, ...], reminder: tuple[int, int] | None = None
) -> list[str]:
    """The body variables {{1}}, {{2}}, … in the order ALERT_TEMPLATE_PARAMS names them."""
    return [template_param_text(_TEMPLATE_VALUES[name](alert, reminder)) for name in params]


def template_body(
    to: str,
    alert: AlertFacts,
    alert_id: str,
    *,
    name: str,
    language: str,
    params: tuple[str, ...],
    reminder: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Template mode: body variables filled as `params` names them (ALERT_TEMPLATE_PARAMS).

    The approved template must declare exactly that many body variables (Meta refuses any
    other number with 132000) and three quick-reply buttons, Test, Maintenance, Entrapment,
    in that order (indexes 0, 1, 2). `language` is always sent: without it the Bridge asks
    for `en_US` (132001 when only `en` is approved).
    """
    values = template_params(alert, params, reminder)
    components: list[dict[str, Any]] = []
    if values:
        components.append({"type": "body", "parameters": [{"type": "text", "text": v} for v in values]})
    components += [
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(index),
            "parameters": [{"type": "payload", "payload": button_id(alert_id, choice)}],
        }
        for index, (choice, _title) in enumerate(BUTTONS)
    ]
    return {
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": language}, "components": components},
    }
