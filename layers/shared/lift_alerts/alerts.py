"""Alerts: create and send one (POST /alerts), show one (GET), close one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts import idempotency
from lift_alerts.clock import epoch, iso, iso_from_epoch, utc_now
from lift_alerts.config import Settings
from lift_alerts.confirmation import confirmation_view
from lift_alerts.dispatch import SendQueue, enqueuer
from lift_alerts.models import AlertRequest
from lift_alerts.observability import count, logger
from lift_alerts.records import expiry
from lift_alerts.repository import AlertRepository
from lift_alerts.rounds import all_deliveries_failed, everyone, outcome, state
from lift_alerts.sending import AlertContent, Delivery, round_records, send_messages, woosh_client
from lift_alerts.woosh import WooshClient


@dataclass(frozen=True)
class SendOutcome:
    status_code: int
    body: dict[str, Any]


def post_alert(
    request: AlertRequest,
    payload: Any,
    *,
    idempotency_key: str | None,
    settings: Settings,
    deadline: float,
) -> SendOutcome:
    """POST /alerts: create and send once per Idempotency-Key and body (SPEC §4)."""

    def create(alert_id: str | None) -> dict[str, Any]:
        outcome = create_and_send(
            request,
            alert_id=alert_id,
            repo=AlertRepository(settings.alerts_table),
            woosh=woosh_client,
            settings=settings,
            now=utc_now(),
            deadline=deadline,
        )
        return {"status_code": outcome.status_code, "body": outcome.body}

    answer = idempotency.once(settings.alerts_table, idempotency_key, payload, create)
    return SendOutcome(int(answer["status_code"]), answer["body"])


def create_and_send(
    request: AlertRequest,
    *,
    repo: AlertRepository,
    woosh: Callable[[], WooshClient],
    settings: Settings,
    now: datetime,
    deadline: float,
    alert_id: str | None = None,
) -> SendOutcome:
    """Create the alert and send round 0. `alert_id` (derived from an Idempotency-Key) makes a
    retry of an attempt that died half way resume it instead of sending again."""
    alert_id_given = alert_id
    alert_id = alert_id or uuid.uuid4().hex
    escalation = request.escalation
    after = (escalation.after_seconds if escalation and escalation.after_seconds else None) or (
        settings.escalation_after_seconds
    )
    max_rounds = settings.escalation_max_rounds
    if escalation is not None and escalation.max_rounds is not None:
        max_rounds = escalation.max_rounds
    next_level = [d for d in (escalation.recipients if escalation else []) if d not in request.recipients]
    created = epoch(now)
    alert = {
        "kind": "alert",
        "alert_id": alert_id,
        "ticket_id": request.ticket_id,
        "lift_id": request.lift_id,
        "site": request.site,
        "floor": request.floor,
        "note": request.note,
        "created_at": iso(now),
        "created_epoch": created,
        "recipient_order": request.recipients,
        "recipients": {
            to: {"to": to, "message_id": None, "send_status": "pending", "round": 0}
            for to in request.recipients
        },
        "messages": {},
        "taps": {},
        "responses": [],
        "failures": {},
        "fallbacks": {},
        # Follow-up ledgers (followup.send_once) and the people skipped outside their window.
        "acks": {},
        "notices_skipped": {},
        "notices": {},
        # Replies that are not taps, oldest first (their ids: the string set `reply_ids`).
        "messages_received": [],
        "confirmation_notices": {},
        "reminders": {},
        "rounds": {},
        "completed_rounds": {},
        "rounds_sent": 0,
        "escalation": {"after_seconds": after, "max_rounds": max_rounds, "recipients": next_level},
        "expires_at": expiry(settings, now),
    }
    # Stored before anything is sent: a tap that races the send still finds its alert.
    done: dict[str, Delivery] = {}
    if not repo.create_alert(alert, due_at=created + after):
        # A retry (same Idempotency-Key and body) of an attempt that died half way:
        # recipients it already sent to are not sent to again.
        earlier = repo.get_alert(alert_id) if alert_id_given is not None else None
        if earlier is None:
            raise RuntimeError(f"alert {alert_id} exists and is not a retry of this request")
        done = _sends_recorded(earlier)
        logger.info("resuming an earlier attempt", extra={"already_sent": len(done)})
    logger.append_keys(alert_id=alert_id, ticket_id=request.ticket_id)

    def remember(delivery: Delivery) -> None:
        repo.record_reminder(alert_id, 0, delivery.to, delivery.record())

    deliveries = send_messages(
        repo,
        woosh(),
        settings,
        alert_id=alert_id,
        content=AlertContent(settings, request, alert_id, None),
        recipients=request.recipients,
        round_no=0,
        now=now,
        deadline=deadline,
        on_sent=remember,
        done=done,
        # The alarm's first recipient is its first contact: before anyone's second (SPEC §11).
        first_contacts=request.recipients[:1],
        # A recipient with no send slot before the deadline waits in the send queue (SPEC §11).
        enqueue=enqueuer(
            SendQueue(repo.table_name),
            alert,
            round_no=0,
            kind="alert",
            order=request.recipients,
            settings=settings,
        ),
    )
    records = round_records(alert_id, 0, deliveries)
    lines = []
    for delivery in deliveries:
        result = delivery.result
        line: dict[str, Any] = {
            "to": delivery.to,
            "message_id": result.message_id,
            "status": "accepted" if result.accepted else "queued" if delivery.queued else "failed",
        }
        if result.error() is not None and not delivery.queued:
            line["error"] = result.error()
        lines.append(line)
    accepted = sum(1 for delivery in deliveries if delivery.result.accepted)
    queued = sum(1 for delivery in deliveries if delivery.queued)
    count("MessagesAccepted", accepted)
    count("MessagesFailed", len(deliveries) - accepted - queued)
    stored = repo.record_round_results(
        alert_id,
        round_no=0,
        recipients=records.recipients,
        messages=records.messages,
        failures=records.failures,
        completed_at=iso(now),
    )
    if all_deliveries_failed(stored, 0):
        repo.bring_forward(alert_id, round_no=0, now=epoch(now))
    logger.info("alert sent", extra={"recipients": len(deliveries), "accepted": accepted, "queued": queued})
    body = {"alert_id": alert_id, "ticket_id": request.ticket_id, "messages": lines}
    return SendOutcome(201 if accepted or queued else 502, body)


def _sends_recorded(alert: dict[str, Any]) -> dict[str, Delivery]:
    """Round 0 sends an earlier attempt recorded (right after Woosh answered each)."""
    return {
        key.partition(":")[2]: Delivery.from_record(key.partition(":")[2], value)
        for key, value in alert.get("reminders", {}).items()
        if key.partition(":")[0] == "0"
    }


def alert_view(alert: dict[str, Any], messages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """GET /alerts/{alert_id}: the alert as SPEC §4 and §9 describe it."""
    recipients = []
    fallbacks: dict[str, dict[str, Any]] = alert.get("fallbacks", {})
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
    responses = alert.get("responses", [])
    escalation = alert.get("escalation", {})
    due_at = alert.get("due_at")
    return {
        "alert_id": alert["alert_id"],
        "ticket_id": alert["ticket_id"],
        "lift_id": alert["lift_id"],
        "site": alert.get("site", ""),
        "floor": alert.get("floor", ""),
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
            "next_due_at": iso_from_epoch(due_at)
            if isinstance(due_at, int) and state(alert) == "awaiting_response"
            else None,
        },
        "closed_at": alert.get("closed_at"),
        "close_reason": alert.get("close_reason"),
        "messages_received": alert.get("messages_received", []),
        "confirmation": confirmation_view(alert),
    }


def message_ids(alert: dict[str, Any]) -> list[str]:
    """The messages GET shows a status for: each recipient's first message and its fallback."""
    ids = [str(e["message_id"]) for e in alert.get("recipients", {}).values() if e.get("message_id")]
    ids += [str(f["message_id"]) for f in alert.get("fallbacks", {}).values() if f.get("message_id")]
    return ids
