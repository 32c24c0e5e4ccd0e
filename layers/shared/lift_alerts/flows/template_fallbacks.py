"""The template fallback of a message refused with 131047 (SPEC §5), sent from the table's stream
within seconds, outside the webhook's answer path: an alert or reminder is resent as the alert
template, a follow-up message as the notice template with the text its ledger entry kept.
Recorded once on the alert, so a re-delivered stream record sends nothing again; a run that
dies between the send and that record sends the template again on the retry (a duplicate
alert is safer than a missing one)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lift_alerts.domain.alert_facts import StoredAlert, all_deliveries_failed, failure_record
from lift_alerts.domain.alert_item import AlertItem, Fallback
from lift_alerts.domain.contents import AlertContent, Content, notice_fallback_content
from lift_alerts.domain.deliveries import Delivery
from lift_alerts.domain.ledgers import fallbacks_due, ledger_of
from lift_alerts.domain.timestamps import iso
from lift_alerts.flows.follow_up_sends import (
    FALLBACK_SEND_SECONDS,
    TRANSIENT_SEND_ERRORS,
    FollowUpContext,
    FollowUpRetry,
)
from lift_alerts.flows.sending import send_messages
from lift_alerts.flows.wake_up_schedule import bring_step_forward
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import Written
from lift_alerts.woosh.client import WooshClient


def template_fallbacks(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    return [
        send_template_fallback(
            str(new["alert_id"]), original_id, failure, ctx.repos, ctx.woosh, ctx.settings, ctx.now
        )
        for original_id, failure in fallbacks_due(old, new)
    ]


def send_template_fallback(
    alert_id: str,
    original_id: str,
    failure: Mapping[str, Any],
    repos: Repositories,
    woosh: Callable[[], WooshClient],
    settings: Settings,
    now: datetime,
) -> str:
    """Resend the content of message `original_id` as the template, once (SPEC §5)."""
    if failure.get("ledger"):
        return _send_ledger_fallback(
            FollowUpContext(repos, woosh, settings, now), alert_id, original_id, failure
        )
    alert = repos.alerts.get_alert(alert_id)  # consistent: a re-delivered record finds the fallback
    log = {"alert_id": alert_id, "message_id": original_id}
    if alert is None or original_id in alert.get("fallbacks", {}):
        return "fallback_already_sent"
    if alert.get("closed_at"):
        logger.info("no template fallback for a closed alert", extra=log)
        return "fallback_skipped_closed"
    to, round_no = str(failure["recipient"]), int(failure["round"])
    max_rounds = int(alert["escalation"]["max_rounds"])
    reminder = (round_no, max_rounds) if round_no > 0 else None
    content = AlertContent(settings, StoredAlert.of(alert), alert_id, reminder)
    delivery = _send_template(repos, woosh(), settings, alert_id, original_id, content, to, round_no, now)
    result = delivery.result
    error = result.error() or delivery.early_failure
    fallback: Fallback = {
        "to": to,
        "round": round_no,
        "message_id": result.message_id,
        "error": error,
        "sent_at": iso(now),
    }
    # The fallback's own failure is the one published (once, with its error).
    failure_entry = (
        failure_record(alert_id, round_no, to, result.message_id, error, fallback=True) if error else None
    )
    stored = repos.alerts.record_fallback(alert_id, original_id, fallback, failure=failure_entry)
    if not isinstance(stored, Written):
        return "fallback_already_sent"
    latest = int(stored.item.get("rounds_sent", 0)) == round_no
    if failure_entry is not None and latest and all_deliveries_failed(stored.item, round_no):
        bring_step_forward(repos, settings, alert_id, round_no=round_no, now=now)
    return _fallback_outcome(delivery, log)


def _send_ledger_fallback(
    ctx: FollowUpContext, alert_id: str, original_id: str, failure: Mapping[str, Any]
) -> str:
    """A follow-up message (acknowledgement, notice, …) refused with 131047: its template, once.

    The text is the one its ledger entry kept; the fallback is recorded on that entry (never
    in the alert's `failures`: a follow-up message is no delivery of the alert's rounds).
    """
    ledger, key = str(failure["ledger"]), str(failure["key"])
    alert = ctx.repos.alerts.get_alert(alert_id)
    entry = ledger_of(alert, ledger).get(key) if alert is not None else None
    if entry is None or "fallback" in entry:
        return "fallback_already_sent"
    content = notice_fallback_content(ctx.settings, entry)
    if content is None:
        return "fallback_skipped_no_template"
    to, now = str(entry["to"]), ctx.now
    delivery = _send_template(
        ctx.repos, ctx.woosh(), ctx.settings, alert_id, original_id, content, to, None, now
    )
    result = delivery.result
    if result.error_code in TRANSIENT_SEND_ERRORS:
        count("FollowUpSendFailed")
        raise FollowUpRetry(f"template fallback of a {content.kind} to retry")
    error = result.error() or delivery.early_failure
    fallback = {"message_id": result.message_id, "error": error, "channel": "template", "sent_at": iso(now)}
    if not isinstance(
        ctx.repos.ledgers.set_ledger_field(alert_id, ledger, key, "fallback", fallback), Written
    ):
        return "fallback_already_sent"
    return _fallback_outcome(
        delivery, {"alert_id": alert_id, "message_id": original_id, "kind": content.kind}
    )


def _send_template(
    repos: Repositories,
    woosh: WooshClient,
    settings: Settings,
    alert_id: str,
    original_id: str,
    content: Content,
    to: str,
    round_no: int | None,
    now: datetime,
) -> Delivery:
    """Send the template that replaces message `original_id` (refused with 131047) to `to`."""
    return send_messages(
        repos,
        woosh,
        settings,
        alert_id=alert_id,
        content=content,
        recipients=[to],
        round_no=round_no,
        now=now,
        deadline=time.monotonic() + FALLBACK_SEND_SECONDS,
        channel="template",
        fallback_for=original_id,
    )[0]


def _fallback_outcome(delivery: Delivery, log: dict[str, Any]) -> str:
    """Count and log a recorded template fallback: sent, or failed with its error."""
    error = delivery.result.error() or delivery.early_failure
    if error is not None:
        count("TemplateFallbackFailed")
        logger.warning("template fallback failed", extra={**log, "error_code": error.get("code")})
        return "fallback_failed"
    count("TemplateFallbackSent")
    logger.info("template fallback sent", extra={**log, "fallback_message_id": delivery.result.message_id})
    return "fallback_sent"
