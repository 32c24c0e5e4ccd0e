"""Delivery statuses (SPEC §6): move each message's status forward only (sent < delivered < read;
failed is final), and record a failure once on its alert (published by the stream), or on
the follow-up ledger entry that sent it; a 131047 on a message that was not a template is
marked for the template fallback (SPEC §5), which the follow-up function sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lift_alerts.domain.alert_facts import all_deliveries_failed, expiry, failure_record
from lift_alerts.domain.alert_item import MessageItem
from lift_alerts.domain.channels import needs_template_fallback
from lift_alerts.domain.inbound import StatusUpdate
from lift_alerts.domain.ledgers import find_ledger_entry, follow_up_template, is_follow_up_message
from lift_alerts.flows.wake_up_schedule import bring_step_forward
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import Written


def record_status(
    update: StatusUpdate,
    repos: Repositories,
    settings: Settings,
    now: datetime,
    log: dict[str, Any] | None = None,
) -> str:
    log = {} if log is None else log
    log["message_id"] = update.message_id
    result = repos.messages.record_status(
        update.message_id, update.status, at=update.at, error=update.error, expires_at=expiry(settings, now)
    )
    if isinstance(result, Written):
        message: MessageItem | None = result.item
        outcome = "status_recorded"
    else:
        message = result.before
        outcome = "status_stale"
    if message and message.get("alert_id"):
        log["alert_id"] = str(message["alert_id"])
    # A stale status: nothing more, unless it is a failed status seen again (make sure its
    # failure reached the alert: the first delivery may have died between the two writes).
    if outcome == "status_stale" and not (
        update.status == "failed" and message and message.get("delivery_status") == "failed"
    ):
        return outcome
    if update.status == "failed" and message and message.get("alert_id"):
        _record_delivery_failure(message, update, repos, settings, now)
    elif update.status == "failed":
        # Before the mapping: the send records the failure when it stores the mapping.
        logger.info("failed status before its mapping", extra={"message_id": update.message_id})
    return outcome


def _record_delivery_failure(
    message: MessageItem, update: StatusUpdate, repos: Repositories, settings: Settings, now: datetime
) -> None:
    alert_id = str(message["alert_id"])
    if is_follow_up_message(message):
        # An acknowledgement, notice or critical message: never a failed delivery of the
        # alert's rounds, never "Alert Delivery Failed"; recorded on its ledger entry.
        _record_follow_up_failure(alert_id, message, update, repos, settings)
        return
    round_no = int(message.get("round_no", 0))
    error = update.error or {}
    # 131047 on a message that was not a template: the follow-up function resends it as the
    # template; its failure is published only if that fails too (SPEC §5).
    # The follow-up resends the *alert* template: only for alert and reminder messages (a
    # confirmation request or a notice must never come back as a LIFT ALARM with three buttons).
    fallback = message.get("kind", "alert") in ("alert", "reminder") and needs_template_fallback(
        bool(settings.template_name), message.get("channel"), error.get("code")
    )
    key, failure = failure_record(
        alert_id,
        round_no,
        str(message.get("recipient")),
        update.message_id,
        error,
        replaced_by_fallback=fallback,
    )
    recorded = repos.alerts.record_failure(alert_id, key, failure)
    if not isinstance(recorded, Written):
        return
    alert = recorded.item
    count("DeliveryFailed")
    logger.warning("delivery failed", extra={"alert_id": alert_id, "message_id": update.message_id})
    if all_deliveries_failed(alert, round_no) and int(alert.get("rounds_sent", 0)) == round_no:
        bring_step_forward(repos, settings, alert_id, round_no=round_no, now=now)


def _record_follow_up_failure(
    alert_id: str, message: MessageItem, update: StatusUpdate, repos: Repositories, settings: Settings
) -> None:
    """Record a follow-up message's failure on the ledger entry that sent it (SPEC §10).

    A 131047 on a message that was not a template is marked for the template fallback,
    which the follow-up function sends from this change of the alert (SPEC §5).
    """
    log = {"alert_id": alert_id, "message_id": update.message_id, "kind": message.get("kind")}
    alert = repos.alerts.get_alert(alert_id)
    found = find_ledger_entry(alert, update.message_id) if alert else None
    if found is None:
        # The status raced the ledger write (milliseconds after the send): logged, not retried.
        logger.warning("failed follow-up message not on its alert yet", extra=log)
        count("FollowUpFailureUnplaced")
        return
    ledger, key, field = found
    error = update.error or {}
    failure: dict[str, Any] = {
        "message_id": update.message_id,
        "recipient": str(message.get("recipient")),
        "error": {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))},
    }
    if field == "failure" and needs_template_fallback(
        follow_up_template(settings, message.get("kind")) is not None,
        message.get("channel"),
        error.get("code"),
    ):
        failure["replaced_by_fallback"] = True
    if isinstance(repos.ledgers.set_ledger_field(alert_id, ledger, key, field, failure), Written):
        count("FollowUpMessageFailed")
        logger.warning("follow-up message failed", extra={**log, "error_code": failure["error"]["code"]})
