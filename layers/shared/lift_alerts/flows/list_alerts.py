"""The list of alerts (SPEC §13): `GET /alerts` and the desk's `/desk/api/alerts`.

One Query of the list index per partition read (never a Scan, `store.alert_listing`), one
BatchGetItem of the page's alerts, one of their recipients' first messages (for `deliveries`),
all eventually consistent: the desk refreshes every few seconds, and a page of 50 then costs
half the read units (README "The desk" has the figures).
"""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.alert_facts import message_ids

# The query this flow takes (the handler parses the query string with it).
from lift_alerts.domain.alert_list import STATE_PARTITIONS, InvalidCursor, make_cursor, read_cursor
from lift_alerts.domain.alert_list import AlertListRequest as AlertListRequest  # noqa: PLC0414 - re-exported
from lift_alerts.domain.alert_views import alert_summary
from lift_alerts.platform.config import Settings
from lift_alerts.platform.http import BadRequest
from lift_alerts.platform.secrets import cursor_key
from lift_alerts.store.alert_listing import DONE, AlertListing, ListScope
from lift_alerts.store.repositories import Repositories


def list_alerts(request: AlertListRequest, settings: Settings) -> dict[str, Any]:
    """`{"alerts": [...], "next": "…" | null}`, newest first; a `next` this service did not
    hand out for this query is a 400 naming it."""
    scope = ListScope(
        partitions=STATE_PARTITIONS[request.state],
        state=request.state,
        site=request.site,
        lift_id=request.lift_id,
        since=request.since_epoch,
    )
    starts: dict[str, Any] = {}
    if request.next is not None:
        try:
            starts = read_cursor(request.next, request.fingerprint(), cursor_key())
        except InvalidCursor as exc:
            raise BadRequest(
                400, {"message": "invalid request", "errors": [{"field": "next", "message": str(exc)}]}
            ) from exc
    page = AlertListing(settings.alerts_table).page(scope, starts, limit=request.limit)
    repos = Repositories.of(settings.alerts_table)
    alerts = repos.alerts.get_alerts(page.alert_ids)
    shown = [alerts[alert_id] for alert_id in page.alert_ids if alert_id in alerts]
    messages = repos.messages.get_messages(
        [message_id for alert in shown for message_id in message_ids(alert)], consistent=False
    )
    more = any(start != DONE for start in page.next_starts.values())
    return {
        "alerts": [alert_summary(alert, messages) for alert in shown],
        "next": make_cursor(page.next_starts, request.fingerprint(), cursor_key()) if more else None,
    }
