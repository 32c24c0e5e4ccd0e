"""Reading alerts (SPEC §4, §9, §13): one alert as `GET /alerts/{alert_id}` shows it, with the
delivery status of each message it shows and its timeline, and closing one (`POST /alerts/{alert_id}/close`:
idempotent, the first close keeps its time and reason)."""

from __future__ import annotations

import re
from typing import Any

from lift_alerts.domain.alert_item import AlertItem

# The close request this flow takes (the handler parses the body with it).
from lift_alerts.domain.alert_request import CloseRequest as CloseRequest  # noqa: PLC0414 - re-exported
from lift_alerts.domain.alert_views import alert_view, view_message_ids
from lift_alerts.domain.timestamps import iso
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import Written

# Alert ids are made here (uuid4 hex, or an Idempotency-Key's hash): anything else names no
# alert, and is not looked up.
_ALERT_ID = re.compile(r"^[0-9a-f]{32}$")


def view_of(alert: AlertItem, repos: Repositories) -> dict[str, Any]:
    """The view of a stored alert, with the statuses of the messages it shows."""
    return alert_view(alert, repos.messages.get_messages(view_message_ids(alert)))


def find_alert(alert_id: str, settings: Settings) -> dict[str, Any] | None:
    """GET /alerts/{alert_id}: the alert's view, or None when there is no such alert."""
    repos = Repositories.of(settings.alerts_table)
    alert = repos.alerts.get_alert(alert_id) if _ALERT_ID.match(alert_id) else None
    return view_of(alert, repos) if alert is not None else None


def close_alert(alert_id: str, reason: str, settings: Settings) -> dict[str, Any] | None:
    """POST /alerts/{alert_id}/close: the closed alert's view, or None when there is no such alert.

    Closing stops escalation and confirmation reminders; it is final (SPEC §9)."""
    if not _ALERT_ID.match(alert_id):
        return None
    repos = Repositories.of(settings.alerts_table)
    closed = repos.alerts.close_alert(alert_id, closed_at=iso(utc_now()), reason=reason)
    if not isinstance(closed, Written):
        return None
    logger.info("alert closed", extra={"alert_id": alert_id})
    return view_of(closed.item, repos)
