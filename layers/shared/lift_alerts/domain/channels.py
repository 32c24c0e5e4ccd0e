"""Which WhatsApp channel a message takes, and when a failed one is resent as a template (SPEC §5).

Meta delivers interactive and free-form messages only within 24 hours of the person's last
message to the business; outside that window only an approved template arrives. An
interactive message to a person outside the window is accepted by the Bridge and fails
later with 131047, so with a template configured the service chooses the channel from the
last time the person wrote, and resends a 131047 failure as the template once.
"""

from __future__ import annotations

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
