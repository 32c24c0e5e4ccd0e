"""Follow-ups of what a write recorded on an alert, driven by the table's stream (SPEC §5).

The stream is the outbox for messages as it is for events: a 131047 failure recorded on an
alert (by the webhook, from a status; or by the send step, from a status that came before
the mapping) is resent here as the template within seconds, outside the webhook's answer
path. A re-delivered stream record sends nothing again: the alert says whether the fallback
was already recorded. A run that dies between the send and that record sends the template
again on the retry: a duplicate alert is safer than a missing one. The 24-hour window of
whoever's tap, YES or reply a change stored is recorded here too (windows.py), so the
webhook answers a tap after one write.
"""

from __future__ import annotations

from typing import Any

from lift_alerts.flows.acknowledge_replies import acknowledge_replies
from lift_alerts.flows.confirm import confirmation_followups
from lift_alerts.flows.follow_up_sends import FollowUpContext, Reaction
from lift_alerts.flows.notify import NOTICE_REACTIONS
from lift_alerts.flows.sending import woosh_client
from lift_alerts.flows.template_fallbacks import template_fallbacks
from lift_alerts.flows.windows import record_stored_windows
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.store.alerts import alert_from_item, is_alert_item
from lift_alerts.store.repositories import Repositories

REACTIONS: tuple[Reaction, ...] = (
    # First: the acknowledgement of a tap or reply this change stored is sent below, and
    # chooses its channel from the window the tap or reply just opened (SPEC §5, §10).
    record_stored_windows,
    template_fallbacks,
    *NOTICE_REACTIONS,
    acknowledge_replies,
    confirmation_followups,
)


def follow_up_record(record: dict[str, Any], ctx: FollowUpContext) -> list[str]:
    """Act on one stream record of the table; returns what was done, for logs and tests."""
    image = record.get("dynamodb", {})
    new = alert_from_item(image["NewImage"]) if "NewImage" in image else None
    old = alert_from_item(image["OldImage"]) if "OldImage" in image else None
    if new is None or not is_alert_item(new):
        return []
    done: list[str] = []
    retry: Exception | None = None
    for reaction in REACTIONS:
        # Each reaction gets its chance even when one before it must be retried; the record
        # is retried after all of them (each is idempotent, so a retry repeats nothing done).
        try:
            done += reaction(ctx, old or {}, new)
        except Exception as exc:
            retry = retry or exc
    if retry is not None:
        raise retry
    return done


def follow_up_stream_record(record: dict[str, Any], settings: Settings) -> list[str]:
    """The follow-up function's work for one stream record of the table, now."""
    context = FollowUpContext(Repositories.of(settings.alerts_table), woosh_client, settings, utc_now())
    return follow_up_record(record, context)
