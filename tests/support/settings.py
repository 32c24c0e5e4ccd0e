"""Settings and alert facts built by hand, for pure tests of what depends on them."""

from __future__ import annotations

import dataclasses
from typing import Any

from lift_alerts.domain.alert_facts import StoredAlert
from lift_alerts.platform.config import Settings


def make_settings(**changes: Any) -> Settings:
    """The service's settings with placeholder AWS names and the template's timings; `changes`
    replaces any field (a template name, the display time zone...)."""
    base = Settings(
        alerts_table="t",
        event_bus_name="b",
        woosh_base_url="https://wa.woosh.ai",
        app_secret_id="s",
        template_name=None,
        template_language="en",
        parked_queue_url=None,
        retention_days=90,
        escalation_after_seconds=120,
        escalation_max_rounds=2,
        send_deadline_seconds=22.0,
        secret_max_age_seconds=300,
    )
    return dataclasses.replace(base, **changes)


def alert_facts(**changes: str) -> StoredAlert:
    """An alert's facts as texts and message bodies read them (ticket EMG-1, LIFT-A, Sandton, floor 3)."""
    facts = {
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "site": "Sandton Office Park",
        "floor": "3",
        "note": "",
    }
    return StoredAlert(**{**facts, **changes})
