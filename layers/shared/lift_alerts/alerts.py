"""Alerts: create and send one (POST /alerts), show one (GET), close one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from lift_alerts.clock import epoch, iso, iso_from_epoch
from lift_alerts.config import Settings
from lift_alerts.models import AlertRequest
from lift_alerts.observability import count, logger
from lift_alerts.outbound import AlertFacts, alert_text, interactive_body, template_body
from lift_alerts.records import expiry, failure_record
from lift_alerts.repository import AlertRepository
from lift_alerts.rounds import all_deliveries_failed, everyone, outcome, state
from lift_alerts.woosh import SendResult, WooshClient


@dataclass(frozen=True)
class StoredAlert:
    """The facts a message is rendered from, as stored on the alert."""

    ticket_id: str
    lift_id: str
    site: str
    floor: str
    note: str

    @classmethod
    def of(cls, alert: dict[str, Any]) -> StoredAlert:
        return cls(
            ticket_id=str(alert["ticket_id"]),
            lift_id=str(alert["lift_id"]),
            site=str(alert.get("site") or ""),
            floor=str(alert.get("floor") or ""),
            note=str(alert.get("note") or ""),
        )


@dataclass(frozen=True)
class SendOutcome:
    status_code: int
    body: dict[str, Any]


def message_body(
    settings: Settings, to: str, facts: AlertFacts, alert_id: str, reminder: tuple[int, int] | None
) -> dict[str, Any]:
    if settings.template_name:
        return template_body(
            to,
            facts,
            alert_id,
            name=settings.template_name,
            language=settings.template_language,
            params=settings.template_params,
            reminder=reminder,
        )
    return interactive_body(to, alert_text(facts, reminder=reminder), alert_id)


def send_round(
    repo: AlertRepository,
    woosh: WooshClient,
    settings: Settings,
    *,
    alert_id: str,
    facts: AlertFacts,
    recipients: list[str],
    round_no: int,
    reminder: tuple[int, int] | None,
    now: datetime,
    deadline: float,
    on_result: Callable[[str, SendResult, dict[str, Any] | None], None] | None = None,
    on_sent: Callable[[str, SendResult], None] | None = None,
    done: dict[str, SendResult] | None = None,
) -> list[tuple[str, SendResult, dict[str, Any] | None]]:
    """Send one message per recipient and store each message id -> alert mapping.

    Returns (recipient, result, failure-before-mapping) triples: the third is set when a
    `failed` status for the message reached us before its mapping was stored.
    """
    done = done or {}
    pending = [to for to in recipients if to not in done]
    bodies = [message_body(settings, to, facts, alert_id, reminder) for to in pending]
    sent = dict(zip(pending, woosh.send_all(bodies, deadline=deadline), strict=True)) if bodies else {}
    results = [done[to] if to in done else sent[to] for to in recipients]
    expires_at = expiry(settings, now)

    def store(pair: tuple[str, SendResult]) -> tuple[str, SendResult, dict[str, Any] | None]:
        to, result = pair
        if on_sent is not None and to not in done:
            # Before anything else can fail: a retry must know this recipient was sent to.
            on_sent(to, result)
        early_failure = None
        if result.message_id is not None:
            message = repo.store_message(
                result.message_id, alert_id=alert_id, recipient=to, round_no=round_no, expires_at=expires_at
            )
            if message.get("delivery_status") == "failed":
                early_failure = message.get("delivery_error") or {
                    "code": "failed",
                    "title": "delivery failed",
                }
        if on_result is not None:
            on_result(to, result, early_failure)
        return to, result, early_failure

    pairs = list(zip(recipients, results, strict=True))
    if len(pairs) <= 1:
        return [store(pair) for pair in pairs]
    with ThreadPoolExecutor(max_workers=min(8, len(pairs)), thread_name_prefix="store") as pool:
        # Every store runs even if another fails (pool.map would cancel those not started):
        # a send Woosh accepted must be remembered, or a retry sends it again.
        futures = [pool.submit(store, pair) for pair in pairs]
    return [future.result() for future in futures]


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
        "reminders": {},
        "rounds": {},
        "completed_rounds": {},
        "rounds_sent": 0,
        "escalation": {"after_seconds": after, "max_rounds": max_rounds, "recipients": next_level},
        "expires_at": expiry(settings, now),
    }
    # Stored before anything is sent: a tap that races the send still finds its alert.
    done: dict[str, SendResult] = {}
    try:
        repo.create_alert(alert, due_at=created + after)
    except ClientError as exc:
        if alert_id_given is None or exc.response.get("Error", {}).get("Code") != (
            "ConditionalCheckFailedException"
        ):
            raise
        # A retry (same Idempotency-Key and body) of an attempt that died half way:
        # recipients it already sent to are not sent to again.
        earlier = repo.get_alert(alert_id)
        if earlier is None:
            raise
        done = _sends_recorded(earlier)
        logger.info("resuming an earlier attempt", extra={"already_sent": len(done)})
    logger.append_keys(alert_id=alert_id, ticket_id=request.ticket_id)

    def remember(to: str, result: SendResult) -> None:
        repo.record_reminder(
            alert_id,
            0,
            to,
            {"message_id": result.message_id, "error": result.error()},
        )

    sent = send_round(
        repo,
        woosh(),
        settings,
        alert_id=alert_id,
        facts=request,
        recipients=request.recipients,
        round_no=0,
        reminder=None,
        now=now,
        deadline=deadline,
        on_sent=remember,
        done=done,
    )
    recipients: dict[str, dict[str, Any]] = {}
    messages: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, Any]] = {}
    lines = []
    for to, result, early_failure in sent:
        error = result.error()
        recipients[to] = {
            "to": to,
            "message_id": result.message_id,
            "send_status": "accepted" if result.accepted else "failed",
            "error": error,
            "round": 0,
        }
        if result.message_id is not None:
            messages[result.message_id] = {"to": to, "round": 0}
        failure = error or early_failure
        if failure is not None:
            key, record = failure_record(alert_id, 0, to, result.message_id, failure)
            failures[key] = record
        line: dict[str, Any] = {
            "to": to,
            "message_id": result.message_id,
            "status": "accepted" if result.accepted else "failed",
        }
        if error is not None:
            line["error"] = error
        lines.append(line)
    accepted = sum(1 for _to, result, _f in sent if result.accepted)
    count("MessagesAccepted", accepted)
    count("MessagesFailed", len(sent) - accepted)
    stored = repo.record_round_results(
        alert_id,
        round_no=0,
        recipients=recipients,
        messages=messages,
        failures=failures,
        completed_at=iso(now),
    )
    if all_deliveries_failed(stored, 0):
        repo.bring_forward(alert_id, round_no=0, now=epoch(now))
    logger.info("alert sent", extra={"recipients": len(sent), "accepted": accepted})
    body = {"alert_id": alert_id, "ticket_id": request.ticket_id, "messages": lines}
    return SendOutcome(201 if accepted else 502, body)


def _sends_recorded(alert: dict[str, Any]) -> dict[str, SendResult]:
    """Round 0 sends an earlier attempt recorded (right after Woosh answered each)."""
    done: dict[str, SendResult] = {}
    for key, value in alert.get("reminders", {}).items():
        round_no, _sep, to = key.partition(":")
        if round_no != "0":
            continue
        error = value.get("error") or {}
        done[to] = SendResult(to, value.get("message_id"), error.get("code"), error.get("title"))
    return done


def remaining_deadline(settings: Settings, remaining_ms: int | None) -> float:
    """Monotonic deadline for Woosh: the configured budget, or less if the Lambda has less left."""
    budget = settings.send_deadline_seconds
    if remaining_ms is not None:
        budget = min(budget, remaining_ms / 1000 - 3.0)
    return time.monotonic() + max(budget, 1.0)


def alert_view(alert: dict[str, Any], messages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """GET /alerts/{alert_id}: the alert as SPEC §4 and §9 describe it."""
    recipients = []
    for to in everyone(alert):
        entry = alert.get("recipients", {}).get(to)
        if entry is None:
            continue  # an escalation recipient not reminded yet
        message_id = entry.get("message_id")
        message = messages.get(message_id) if message_id else None
        if message is not None:
            delivery_status = message.get("delivery_status", "accepted")
            error = message.get("delivery_error") or entry.get("error")
        else:
            delivery_status = entry.get("send_status", "pending")
            error = entry.get("error")
        line: dict[str, Any] = {"to": to, "message_id": message_id, "delivery_status": delivery_status}
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
    }


def message_ids(alert: dict[str, Any]) -> list[str]:
    return [str(e["message_id"]) for e in alert.get("recipients", {}).values() if e.get("message_id")]
