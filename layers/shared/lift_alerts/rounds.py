"""Facts about an alert's send rounds, derived from the stored alert (round 0 is the first send)."""

from __future__ import annotations

from typing import Any

from lift_alerts.choices import most_severe


def round_recipients(alert: dict[str, Any], round_no: int) -> list[str]:
    if round_no == 0:
        return list(alert.get("recipient_order", []))
    return list(alert.get("rounds", {}).get(str(round_no), {}).get("recipients", []))


def everyone(alert: dict[str, Any]) -> list[str]:
    """Recipients and escalation recipients, each once, in the order they were given."""
    ordered = dict.fromkeys(alert.get("recipient_order", []))
    ordered.update(dict.fromkeys(alert.get("escalation", {}).get("recipients", [])))
    return list(ordered)


def all_deliveries_failed(alert: dict[str, Any], round_no: int) -> bool:
    """True once every message of a completed round has failed (at send or by a `failed` status)."""
    if str(round_no) not in alert.get("completed_rounds", {}):
        return False
    attempted = set(round_recipients(alert, round_no))
    failed = {
        f.get("recipient")
        for f in alert.get("failures", {}).values()
        # A failure the template fallback replaces is not a failed delivery (SPEC §5).
        if f.get("round") == round_no and not f.get("replaced_by_fallback")
    }
    return bool(attempted) and attempted <= failed


def state(alert: dict[str, Any]) -> str:
    if alert.get("closed_at"):
        return "closed"
    if alert.get("responses"):
        return "answered"
    if alert.get("unanswered_at"):
        return "unanswered"
    return "awaiting_response"


def outcome(responses: list[dict[str, Any]]) -> str | None:
    return most_severe(str(r.get("choice")) for r in responses)
