"""The WhatsApp message an alert sends: text, buttons, and the Woosh request body (SPEC §5)."""

from __future__ import annotations

from typing import Any, Protocol

from lift_alerts.choices import BUTTONS, button_id


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


def alert_text(alert: AlertFacts, *, reminder: tuple[int, int] | None = None) -> str:
    lines = []
    if reminder is not None:
        lines.append(f"REMINDER {reminder[0]}/{reminder[1]}")
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
    return {
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": text},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": button_id(alert_id, choice), "title": title}}
                    for choice, title in BUTTONS
                ]
            },
        },
    }


def template_body(
    to: str, alert: AlertFacts, alert_id: str, *, name: str, language: str, heading: str
) -> dict[str, Any]:
    """Template mode: body variables {{1}} heading, {{2}} ticket, {{3}} site, {{4}} lift, {{5}} floor.

    The approved template must declare those five variables and three quick-reply buttons,
    Test, Maintenance, Entrapment, in that order (indexes 0, 1, 2).
    """
    values = [heading, alert.ticket_id, alert.site or "-", alert.lift_id, alert.floor or "-"]
    components: list[dict[str, Any]] = [
        {"type": "body", "parameters": [{"type": "text", "text": value} for value in values]}
    ]
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
