"""Recording when a person last wrote, for the 24-hour window (SPEC §5).

Every inbound message moves its sender's window forward. Where that is written depends on
what became of the message, so that a tap costs the webhook one DynamoDB write, not two:

- A tap, YES or reply STORED ON AN ALERT is recorded by the follow-up function from the
  alert's stream record (`record_stored_windows`, the first of its reactions, so the
  acknowledgement sent for that very change already sees the window open). The stored
  entry keeps everything needed: the WhatsApp timestamp, the phone and the user id.
- Anything else with a sender (unmatched taps, replies nobody kept, other message types,
  updates parked after an AWS fault) is recorded by the webhook itself (`updates.py`).

Either way the record only moves forward (a conditional write), uses the WhatsApp
timestamp, and maps a business-scoped user id to the phone seen with it. A failure is
logged and counted, never retried: a window not recorded costs at most a template instead
of an interactive message, never a lost alert or tap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lift_alerts.channels import Sighting, latest_sightings
from lift_alerts.clock import epoch
from lift_alerts.config import Settings
from lift_alerts.observability import count, logger
from lift_alerts.stored import AlertItem, expiry

if TYPE_CHECKING:
    from lift_alerts.followup import FollowUpContext
    from lift_alerts.repository import AlertRepository

# The window is 24 hours: the record is of no use two days later.
KEEP_SECONDS = 2 * 86_400


def sighting(wa_id: str | None, user_id: str | None, at: str | None) -> Sighting | None:
    """Who wrote at WhatsApp time `at` (ISO 8601), or None when nobody or no time is known."""
    if not (wa_id or user_id) or not at:
        return None
    try:
        written = epoch(datetime.fromisoformat(at.replace("Z", "+00:00")))
    except ValueError:
        return None
    return Sighting(wa_id=wa_id or None, user_id=user_id or None, at=written)


def record_sightings(
    sightings: Iterable[Sighting], repo: AlertRepository, settings: Settings, now: datetime
) -> list[bool]:
    """Record each person's latest sighting; per person, whether it was recorded."""
    recorded: list[bool] = []
    for seen in latest_sightings(list(sightings)):
        try:
            repo.record_sighting(
                seen, expires_at=seen.at + KEEP_SECONDS, retention_expires_at=expiry(settings, now)
            )
            recorded.append(True)
        except Exception:
            # Not parked, not retried: the safe direction is a template (see the module doc).
            logger.warning("could not record when a person wrote", exc_info=True)
            count("ContactWindowNotRecorded")
            recorded.append(False)
    return recorded


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


def record_stored_windows(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """Reaction (followup.REACTIONS): move the window of everyone whose tap, YES or reply this
    change stored. Idempotent: a re-delivered record writes nothing new (the window only
    moves forward)."""
    recorded = record_sightings(stored_sightings(old, new), ctx.repo, ctx.settings, ctx.now)
    return ["window_recorded" if ok else "window_not_recorded" for ok in recorded]
