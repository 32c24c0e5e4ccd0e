"""Create an alert and send its first round (POST /alerts, SPEC §4). GET and close are `read_alerts`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.domain.alert_facts import all_deliveries_failed, expiry
from lift_alerts.domain.alert_item import Escalation, new_alert

# The request this flow takes (`parse_request` reads a body with it).
from lift_alerts.domain.alert_request import PHONE_REGION
from lift_alerts.domain.alert_request import AlertRequest as AlertRequest  # noqa: PLC0414 - re-exported
from lift_alerts.domain.contents import AlertContent
from lift_alerts.domain.deliveries import Delivery, deliveries_recorded, round_records
from lift_alerts.domain.step_timing import StepSeries
from lift_alerts.domain.timestamps import epoch, iso
from lift_alerts.flows.queueing import enqueuer
from lift_alerts.flows.sending import send_messages, woosh_client
from lift_alerts.flows.wake_up_schedule import bring_step_forward, schedule_wake_up
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store import idempotency
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import ConditionFailed
from lift_alerts.woosh.client import WooshClient


@dataclass(frozen=True)
class SendOutcome:
    status_code: int
    body: dict[str, Any]


def parse_request(payload: Any, settings: Settings) -> AlertRequest:
    """The body as an alert request; a bad field raises pydantic's ValidationError (a 400 naming
    it). National phone numbers are read in DEFAULT_PHONE_REGION (SPEC §4)."""
    return AlertRequest.model_validate(payload, context={PHONE_REGION: settings.default_phone_region})


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
            repos=Repositories.of(settings.alerts_table),
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
    repos: Repositories,
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
    escalation = _escalation(request, settings)
    alert = new_alert(
        alert_id, request, request.recipients, escalation, now, expires_at=expiry(settings, now)
    )
    # Stored before anything is sent: a tap that races the send still finds its alert.
    done: dict[str, Delivery] = {}
    if isinstance(
        repos.alerts.create_alert(alert, due_at=epoch(now) + escalation["after_seconds"]), ConditionFailed
    ):
        # A retry (same Idempotency-Key and body) of an attempt that died half way:
        # recipients it already sent to are not sent to again.
        earlier = repos.alerts.get_alert(alert_id) if alert_id_given is not None else None
        if earlier is None:
            raise RuntimeError(f"alert {alert_id} exists and is not a retry of this request")
        done = deliveries_recorded(earlier.get("reminders", {}), 0)
        logger.info("resuming an earlier attempt", extra={"already_sent": len(done)})
    logger.append_keys(alert_id=alert_id, ticket_id=request.ticket_id)

    def remember(delivery: Delivery) -> None:
        repos.ledgers.record_reminder(alert_id, 0, delivery.to, delivery.record())

    deliveries = send_messages(
        repos,
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
            repos.queue,
            alert,
            round_no=0,
            kind="alert",
            order=request.recipients,
            settings=settings,
        ),
    )
    records = round_records(alert_id, 0, deliveries)
    accepted = sum(1 for delivery in deliveries if delivery.result.accepted)
    queued = sum(1 for delivery in deliveries if delivery.queued)
    count("MessagesAccepted", accepted)
    count("MessagesFailed", len(deliveries) - accepted - queued)
    stored = repos.alerts.record_round_results(
        alert_id,
        round_no=0,
        records=records,
        completed_at=iso(now),
    )
    # The first step (round 1, or the unanswered mark) is due one wait after creation (SPEC §12).
    schedule_wake_up(settings, StepSeries.ESCALATION, alert_id, epoch(now) + escalation["after_seconds"])
    if all_deliveries_failed(stored, 0):
        bring_step_forward(repos, settings, alert_id, round_no=0, now=now)
    logger.info("alert sent", extra={"recipients": len(deliveries), "accepted": accepted, "queued": queued})
    body = {
        "alert_id": alert_id,
        "ticket_id": request.ticket_id,
        "messages": [_answer_line(d) for d in deliveries],
    }
    return SendOutcome(201 if accepted or queued else 502, body)


def _escalation(request: AlertRequest, settings: Settings) -> Escalation:
    """The request's escalation, the configured defaults filling what it leaves out; the next
    level never repeats a first-level recipient."""
    asked = request.escalation
    after = (
        asked.after_seconds if asked and asked.after_seconds else None
    ) or settings.escalation_after_seconds
    max_rounds = settings.escalation_max_rounds
    if asked is not None and asked.max_rounds is not None:
        max_rounds = asked.max_rounds
    next_level = [d for d in (asked.recipients if asked else []) if d not in request.recipients]
    return {"after_seconds": after, "max_rounds": max_rounds, "recipients": next_level}


def _answer_line(delivery: Delivery) -> dict[str, Any]:
    """One recipient's line in POST /alerts' answer (SPEC §4)."""
    result = delivery.result
    line: dict[str, Any] = {
        "to": delivery.to,
        "message_id": result.message_id,
        "status": "accepted" if result.accepted else "queued" if delivery.queued else "failed",
    }
    if result.error() is not None and not delivery.queued:
        line["error"] = result.error()
    return line


def register_lambda_context(context: Any) -> None:
    """Let an Idempotency-Key's in-progress record expire when this invocation's time runs out."""
    idempotency.register_lambda_context(context)
