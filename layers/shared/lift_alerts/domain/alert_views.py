"""What a caller is shown of a stored alert (SPEC §4, §9, §10, §13): `GET /alerts/{alert_id}`'s
answer (and a close's), with each shown message's latest delivery status and the alert's
story (`timeline`). Pure."""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.alert_facts import everyone, message_ids, outcome, state
from lift_alerts.domain.alert_item import AlertItem, MessageItem
from lift_alerts.domain.timeline import timeline, timeline_message_ids
from lift_alerts.domain.timestamps import iso_from_epoch


def view_message_ids(alert: AlertItem) -> list[str]:
    """Every message whose item `alert_view` reads: each recipient's first message and its
    fallback (their latest status), and every other message of the timeline."""
    return list(dict.fromkeys([*message_ids(alert), *timeline_message_ids(alert)]))


def alert_view(alert: AlertItem, messages: dict[str, MessageItem]) -> dict[str, Any]:
    """GET /alerts/{alert_id}: the alert as SPEC §4, §9, §10 and §13 describe it (`messages`:
    the items of `view_message_ids`)."""
    return {**_alert_fields(alert, messages), "timeline": timeline(alert, messages)}


def recipient_lines(alert: AlertItem, messages: dict[str, MessageItem]) -> list[dict[str, Any]]:
    """GET's `recipients`: each person messaged, with their first message's delivery status."""
    recipients = []
    fallbacks = alert.get("fallbacks", {})
    for to in everyone(alert):
        entry = alert.get("recipients", {}).get(to)
        if entry is None:
            continue  # an escalation recipient not reminded yet
        message_id = entry.get("message_id")
        channel = entry.get("channel", "interactive")
        replaced = bool(entry.get("fallback"))
        fallback = fallbacks.get(message_id) if message_id else None
        if fallback is not None:
            # The first message failed with 131047 and its template fallback replaced it.
            message_id, channel, replaced = fallback.get("message_id"), "template", True
            entry = {
                **entry,
                "send_status": "accepted" if message_id else "failed",
                "error": fallback.get("error"),
            }
        message = messages.get(message_id) if message_id else None
        if message is not None:
            delivery_status = message.get("delivery_status", "accepted")
            error = message.get("delivery_error") or entry.get("error")
        else:
            delivery_status = entry.get("send_status", "pending")
            error = entry.get("error")
        line: dict[str, Any] = {
            "to": to,
            "message_id": message_id,
            "delivery_status": delivery_status,
            "channel": channel,
            "fallback": replaced,
            # Notices, acknowledgements or critical messages not sent: outside the window and
            # no NOTICE_TEMPLATE_NAME (SPEC §10).
            "notices_skipped": int(alert.get("notices_skipped", {}).get(to, 0)),
        }
        if error and delivery_status == "failed":
            line["error"] = error
        recipients.append(line)
    return recipients


def next_due_at(alert: AlertItem) -> str | None:
    """When the next escalation step is due, while the alert awaits a response."""
    due_at = alert.get("due_at")
    return iso_from_epoch(due_at) if isinstance(due_at, int) and state(alert) == "awaiting_response" else None


def which_alert(alert: AlertItem) -> dict[str, Any]:
    """The fields that say which alarm an alert is, as every view of it begins."""
    return {
        "alert_id": alert["alert_id"],
        "ticket_id": alert["ticket_id"],
        "lift_id": alert["lift_id"],
        "site": alert.get("site", ""),
        "floor": alert.get("floor", ""),
    }


def _alert_fields(alert: AlertItem, messages: dict[str, MessageItem]) -> dict[str, Any]:
    recipients = recipient_lines(alert, messages)
    responses = alert.get("responses", [])
    escalation = alert.get("escalation", {})
    return {
        **which_alert(alert),
        "note": alert.get("note", ""),
        "created_at": alert["created_at"],
        "state": state(alert),
        "outcome": outcome(responses),
        "recipients": recipients,
        "first_response": alert.get("first_response"),
        "responses": responses,
        "escalation": {
            "after_seconds": escalation.get("after_seconds"),
            "max_rounds": escalation.get("max_rounds"),
            "rounds_sent": alert.get("rounds_sent", 0),
            "next_due_at": next_due_at(alert),
        },
        "closed_at": alert.get("closed_at"),
        "close_reason": alert.get("close_reason"),
        "messages_received": alert.get("messages_received", []),
        "confirmation": confirmation_view(alert),
    }


def confirmation_view(alert: AlertItem) -> dict[str, Any] | None:
    """GET's `confirmation`: null before an entrapment (SPEC §10)."""
    confirmation = alert.get("confirmation")
    if not confirmation:
        return None
    waiting = not (
        confirmation.get("confirmed_at") or confirmation.get("missed_at") or alert.get("closed_at")
    )
    by = confirmation.get("confirmed_by")
    return {
        "requested_at": confirmation.get("requested_at"),
        "rounds_sent": int(confirmation.get("rounds_sent", 0)),
        "next_due_at": confirmation.get("next_due_at") if waiting else None,
        "confirmed_at": confirmation.get("confirmed_at"),
        "confirmed_by": {"wa_id": by.get("wa_id"), "name": by.get("name")} if by else None,
        "missed_at": confirmation.get("missed_at"),
    }


# What `deliveries` counts (SPEC §13): each person under the delivery status GET shows for them.
DELIVERY_COUNTS = ("queued", "accepted", "sent", "delivered", "read", "failed")


def alert_summary(alert: AlertItem, messages: dict[str, MessageItem]) -> dict[str, Any]:
    """One alert in `GET /alerts` (SPEC §13); `messages`: the items of `message_ids(alert)`.

    `deliveries.recipients` is the number of people the alert was sent to; each is counted
    once under their first message's `delivery_status` as GET shows it, a message still being
    sent (`pending`) under `queued`; a first alert dropped because the alert was closed first
    (`not_sent`) is counted under none.
    """
    lines = recipient_lines(alert, messages)
    deliveries = {"recipients": len(lines), **dict.fromkeys(DELIVERY_COUNTS, 0)}
    for line in lines:
        status = "queued" if line["delivery_status"] == "pending" else line["delivery_status"]
        if status in deliveries:
            deliveries[status] += 1
    confirmation = alert.get("confirmation")
    return {
        **which_alert(alert),
        "state": state(alert),
        "outcome": outcome(alert.get("responses", [])),
        "created_at": alert["created_at"],
        "first_response": alert.get("first_response"),
        "rounds_sent": alert.get("rounds_sent", 0),
        "next_due_at": next_due_at(alert),
        "confirmation": {
            "requested_at": confirmation.get("requested_at"),
            "confirmed_at": confirmation.get("confirmed_at"),
            "missed_at": confirmation.get("missed_at"),
        }
        if confirmation
        else None,
        "deliveries": deliveries,
    }
