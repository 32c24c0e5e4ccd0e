"""Events on the bus (SPEC §7, §9), derived from changes of an alert item.

The table's stream is the outbox: whatever a write added to an alert (a tap in `responses`,
a reply in `messages_received`, a delivery failure, a completed escalation round, the
`unanswered` mark) becomes exactly
the events below, with `event_id`s that depend only on the data, so a re-delivered stream
record publishes again only under the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lift_alerts.domain.alert_item import AlertItem, Confirmation
from lift_alerts.domain.choices import most_severe

SOURCE = "lift-alerts"
RESPONSE_RECEIVED = "Alert Response Received"
DELIVERY_FAILED = "Alert Delivery Failed"
ESCALATED = "Alert Escalated"
UNANSWERED = "Alert Unanswered"
MESSAGE_RECEIVED = "Alert Message Received"
# The fields of a kept reply that its event carries (SPEC §10), besides the alert's.
REPLY_FIELDS = (
    "type",
    "text",
    "media_id",
    "mime_type",
    "filename",
    "location",
    "from",
    "received_at",
    "matched_by",
)
PROVIDER_CONFIRMED = "Alert Provider Confirmed"
CONFIRMATION_MISSED = "Alert Confirmation Missed"


@dataclass(frozen=True)
class Event:
    detail_type: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])


def _alert_fields(alert: AlertItem, *, place: bool = True) -> dict[str, Any]:
    fields = {"alert_id": alert["alert_id"], "ticket_id": alert["ticket_id"], "lift_id": alert["lift_id"]}
    if place:
        fields.update(site=alert.get("site", ""), floor=alert.get("floor", ""))
    return fields


def events_for_change(old: AlertItem | None, new: AlertItem | None) -> list[Event]:
    if new is None:
        return []  # expired by TTL or deleted: nothing to tell
    old = old or {}
    events: list[Event] = []

    responses = new.get("responses", [])
    for index in range(len(old.get("responses", [])), len(responses)):
        response = responses[index]
        detail = {"event_id": response["event_id"], **_alert_fields(new)}
        detail.update(
            choice=response["choice"],
            button_title=response.get("button_title"),
            responder=response.get("responder"),
            responded_at=response.get("responded_at"),
            original_message_id=response.get("original_message_id"),
            first_response=index == 0,
            matched_by=response.get("matched_by"),
            # The alert's outcome after this tap: severity only rises.
            outcome=most_severe(str(r.get("choice")) for r in responses[: index + 1]),
        )
        events.append(Event(RESPONSE_RECEIVED, detail))

    old_failures = old.get("failures", {})
    for key, failure in new.get("failures", {}).items():
        if key in old_failures or failure.get("replaced_by_fallback"):
            # A 131047 failure replaced by the template fallback is published only if the
            # fallback fails too, as the fallback's own failure (SPEC §5).
            continue
        detail = {"event_id": failure["event_id"], **_alert_fields(new, place=False)}
        detail.update(
            recipient=failure["recipient"], message_id=failure.get("message_id"), error=failure["error"]
        )
        events.append(Event(DELIVERY_FAILED, detail))

    old_rounds = old.get("rounds", {})
    for key, round_ in sorted(new.get("rounds", {}).items(), key=lambda kv: int(kv[0])):
        if key in old_rounds:
            continue
        detail = {"event_id": f"{new['alert_id']}:round:{round_['round']}", **_alert_fields(new)}
        detail.update(round=round_["round"], recipients=round_["recipients"], reason=round_["reason"])
        events.append(Event(ESCALATED, detail))

    # Replies that are not taps: one event per reply the write added (oldest first).
    replies = new.get("messages_received", [])
    for reply in replies[len(old.get("messages_received", [])) :]:
        detail = {"event_id": reply["event_id"], **_alert_fields(new)}
        detail.update({name: reply.get(name) for name in REPLY_FIELDS})
        events.append(Event(MESSAGE_RECEIVED, detail))

    if new.get("unanswered_at") and not old.get("unanswered_at"):
        detail = {"event_id": f"{new['alert_id']}:unanswered", **_alert_fields(new)}
        detail.update(rounds=new.get("rounds_sent", 0))
        events.append(Event(UNANSWERED, detail))
    events += _confirmation_events(old.get("confirmation") or {}, new)
    return events


def _confirmation_events(old: Confirmation, new: AlertItem) -> list[Event]:
    """The first YES and the confirmation missed after the last reminder (SPEC §10)."""
    confirmation = new.get("confirmation") or {}
    events: list[Event] = []
    if confirmation.get("confirmed_at") and not old.get("confirmed_at"):
        by = confirmation.get("confirmed_by") or {}
        detail = {"event_id": f"{new['alert_id']}:confirmed", **_alert_fields(new)}
        detail.update(
            confirmed_by={"wa_id": by.get("wa_id"), "name": by.get("name")},
            confirmed_at=confirmation["confirmed_at"],
        )
        events.append(Event(PROVIDER_CONFIRMED, detail))
    if confirmation.get("missed_at") and not old.get("missed_at"):
        detail = {"event_id": f"{new['alert_id']}:confirmation_missed", **_alert_fields(new)}
        detail.update(rounds=confirmation.get("rounds_sent", 0))
        events.append(Event(CONFIRMATION_MISSED, detail))
    return events
