"""Which WhatsApp channel a message takes, and when a failed one is resent as a template (SPEC §5).

Meta delivers interactive and free-form messages only within 24 hours of the person's last
message to the business; outside that window only an approved template arrives. An
interactive message to a person outside the window is accepted by the Bridge and fails
later with 131047, so with a template configured the service chooses the channel from the
last time the person wrote, and resends a 131047 failure as the template once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Channel = Literal["interactive", "template", "text"]

# Meta's window is 24 hours; 10 minutes less leaves room for clocks and a slow send.
WINDOW_SECONDS = 24 * 3600 - 600
OUTSIDE_WINDOW = "131047"


def window_open(last_inbound: int | None, now: int) -> bool:
    """True when the person wrote within the window (`last_inbound`, Unix seconds)."""
    return last_inbound is not None and now - last_inbound < WINDOW_SECONDS


def needs_template_fallback(template_configured: bool, channel: str | None, error_code: str | None) -> bool:
    """A non-template message that failed because the window was closed is resent as the template."""
    return template_configured and channel != "template" and error_code == OUTSIDE_WINDOW


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
