"""Recording when a person last wrote, for the 24-hour window (SPEC §5).

Every inbound message moves its sender's window forward. Where that is written depends on
what became of the message, so that a tap costs the webhook one DynamoDB write, not two:

- A tap, YES or reply STORED ON AN ALERT is recorded by the follow-up function from the
  alert's stream record (`record_stored_windows`, the first of its reactions, so the
  acknowledgement sent for that very change already sees the window open). The stored
  entry keeps everything needed: the WhatsApp timestamp, the phone and the user id.
- Anything else with a sender (unmatched taps, replies nobody kept, other message types,
  updates parked after an AWS fault) is recorded by the webhook itself (`apply_updates`).

Either way the record only moves forward (a conditional write), uses the WhatsApp
timestamp, and maps a business-scoped user id to the phone seen with it. A failure is
logged and counted, never retried: a window not recorded costs at most a template instead
of an interactive message, never a lost alert or tap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from lift_alerts.domain.alert_facts import expiry
from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.sightings import Sighting, latest_sightings, stored_sightings
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.contacts import ContactRepository

if TYPE_CHECKING:
    # Only a type: the webhook records windows too, and must not load the follow-up's senders.
    from lift_alerts.flows.follow_up_sends import FollowUpContext

KEEP_SECONDS = 2 * 86_400


def record_sightings(
    sightings: Iterable[Sighting], contacts: ContactRepository, settings: Settings, now: datetime
) -> list[bool]:
    """Record each person's latest sighting; per person, whether it was recorded."""
    recorded: list[bool] = []
    for seen in latest_sightings(list(sightings)):
        try:
            contacts.record_sighting(
                seen, expires_at=seen.at + KEEP_SECONDS, retention_expires_at=expiry(settings, now)
            )
            recorded.append(True)
        except Exception:
            # Not parked, not retried: the safe direction is a template (see the module doc).
            logger.warning("could not record when a person wrote", exc_info=True)
            count("ContactWindowNotRecorded")
            recorded.append(False)
    return recorded


def record_stored_windows(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """Reaction (follow_up.REACTIONS): move the window of everyone whose tap, YES or reply this
    change stored. Idempotent: a re-delivered record writes nothing new (the window only
    moves forward)."""
    recorded = record_sightings(stored_sightings(old, new), ctx.repos.contacts, ctx.settings, ctx.now)
    return ["window_recorded" if ok else "window_not_recorded" for ok in recorded]
