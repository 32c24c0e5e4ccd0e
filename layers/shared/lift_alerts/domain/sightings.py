"""Who wrote to the business and when (SPEC §5): a `Sighting` moves that person's 24-hour window.
Taken from a tap, YES or reply stored on an alert (`stored_sightings`, from the alert's stream
record) or from any other update with a sender. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.timestamps import epoch


@dataclass(frozen=True)
class Sighting:
    """A person wrote to the business (a tap or any other message) at `at` (Unix seconds).

    `wa_id` is the phone's digits; with business-scoped user ids (2026) a message may carry
    only `user_id`, which then counts for the phone last seen with that id, if any.
    """

    wa_id: str | None
    user_id: str | None
    at: int


def latest_sightings(sightings: list[Sighting]) -> list[Sighting]:
    """One sighting per person (the latest), so a batch costs one write per person."""
    latest: dict[tuple[str | None, str | None], Sighting] = {}
    for sighting in sightings:
        if not (sighting.wa_id or sighting.user_id):
            continue
        key = (sighting.wa_id, sighting.user_id)
        if key not in latest or latest[key].at < sighting.at:
            latest[key] = sighting
    return list(latest.values())


def sighting(wa_id: str | None, user_id: str | None, at: str | None) -> Sighting | None:
    """Who wrote at WhatsApp time `at` (ISO 8601), or None when nobody or no time is known."""
    if not (wa_id or user_id) or not at:
        return None
    try:
        written = epoch(datetime.fromisoformat(at.replace("Z", "+00:00")))
    except ValueError:
        return None
    return Sighting(wa_id=wa_id or None, user_id=user_id or None, at=written)


def _added(old: Mapping[str, Any], new: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The entries one write appended to the list `key` (lists on an alert only grow)."""
    items: list[Mapping[str, Any]] = new.get(key) or []
    return items[len(old.get(key) or []) :]


def stored_sightings(old: AlertItem, new: AlertItem) -> list[Sighting]:
    """Who wrote, per tap (`responses`), YES (`confirmations`) and reply (`messages_received`)
    this change stored on the alert, at the WhatsApp time of each."""
    found: list[Sighting | None] = []
    for key in ("responses", "confirmations"):
        for tap in _added(old, new, key):
            person = tap.get("responder") or {}
            found.append(sighting(person.get("wa_id"), person.get("user_id"), tap.get("responded_at")))
    for reply in _added(old, new, "messages_received"):
        person = reply.get("from") or {}
        found.append(sighting(person.get("wa_id"), person.get("user_id"), reply.get("received_at")))
    return [s for s in found if s is not None]
