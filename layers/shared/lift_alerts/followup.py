"""Follow-ups of what a write recorded on an alert, driven by the table's stream (SPEC §5).

The stream is the outbox for messages as it is for events: a 131047 failure recorded on an
alert (by the webhook, from a status; or by the send step, from a status that came before
the mapping) is resent here as the template within seconds, outside the webhook's answer
path. A re-delivered stream record sends nothing again: the alert says whether the fallback
was already recorded. A run that dies between the send and that record sends the template
again on the retry: a duplicate alert is safer than a missing one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.clock import epoch, iso
from lift_alerts.config import Settings
from lift_alerts.observability import count, logger
from lift_alerts.records import failure_record
from lift_alerts.repository import AlertRepository, from_item, is_alert_item
from lift_alerts.rounds import all_deliveries_failed
from lift_alerts.sending import AlertContent, Content, Delivery, StoredAlert, send_messages
from lift_alerts.woosh import WooshClient

FALLBACK_SEND_SECONDS = 20.0


def fallbacks_due(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """The failures this change added that a template fallback replaces: (message id, failure).

    A failure refused at send time (no message id) was already replaced by the send step.
    """
    if new is None:
        return []
    before = (old or {}).get("failures", {})
    return [
        (key, failure)
        for key, failure in new.get("failures", {}).items()
        if key not in before and failure.get("replaced_by_fallback") and failure.get("message_id")
    ]


@dataclass(frozen=True)
class FollowUpContext:
    """What every reaction needs: data access, the Bridge (created on first use), settings, time."""

    repo: AlertRepository
    woosh: Callable[[], WooshClient]
    settings: Settings
    now: datetime


# A reaction looks at what one write changed on an alert (old and new image) and sends what
# that calls for; it returns what it did (for logs and tests). Each must be idempotent: a
# stream record can be delivered again.
Reaction = Callable[[FollowUpContext, dict[str, Any], dict[str, Any]], list[str]]


def template_fallbacks(ctx: FollowUpContext, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        send_template_fallback(
            str(new["alert_id"]), original_id, failure, ctx.repo, ctx.woosh, ctx.settings, ctx.now
        )
        for original_id, failure in fallbacks_due(old, new)
    ]


def entrapment_confirmation(ctx: FollowUpContext, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    # Imported here: confirmation.py builds on send_once from this module.
    from lift_alerts.confirmation import confirmation_followups

    return confirmation_followups(ctx, old, new)


REACTIONS: tuple[Reaction, ...] = (template_fallbacks, entrapment_confirmation)


def follow_up_record(record: dict[str, Any], ctx: FollowUpContext) -> list[str]:
    """Act on one stream record of the table; returns what was done, for logs and tests."""
    image = record.get("dynamodb", {})
    new = from_item(image["NewImage"]) if "NewImage" in image else None
    old = from_item(image["OldImage"]) if "OldImage" in image else None
    if new is None or not is_alert_item(new):
        return []
    done: list[str] = []
    for reaction in REACTIONS:
        done += reaction(ctx, old or {}, new)
    return done


def send_once(
    ctx: FollowUpContext,
    alert_id: str,
    *,
    ledger: str,
    targets: dict[str, str],
    content: Content,
) -> dict[str, Delivery]:
    """Send `content` to each person in `targets` (phone -> ledger key) not yet in the alert's
    `ledger` map, and record one entry per key (acknowledgements, notices, critical messages).

    The ledger is read consistently before the send and each entry written after it only if
    absent, so a re-delivered stream record sends nothing twice; a run that dies between the
    send and the record sends again on the retry (a duplicate notice is safer than none).
    A person outside the window with no template for this kind is skipped and counted in the
    alert's `notices_skipped`. The ledger map must exist on the alert (created with it).
    """
    alert = ctx.repo.get_alert(alert_id)
    if alert is None:
        return {}
    recorded = alert.get(ledger, {})
    pending = {to: key for to, key in targets.items() if key not in recorded}
    if not pending:
        return {}
    deliveries = send_messages(
        ctx.repo,
        ctx.woosh(),
        ctx.settings,
        alert_id=alert_id,
        content=content,
        recipients=list(pending),
        round_no=None,
        now=ctx.now,
        deadline=time.monotonic() + FALLBACK_SEND_SECONDS,
    )
    entries = {
        pending[d.to]: {"to": d.to, "kind": content.kind, "sent_at": iso(ctx.now), **d.record()}
        for d in deliveries
        if not d.skipped
    }
    skipped = [d.to for d in deliveries if d.skipped]
    ctx.repo.record_ledger(alert_id, ledger, entries, skipped=skipped)
    if skipped:
        count("NoticeSkipped", len(skipped))
        logger.info(
            "people outside the window skipped", extra={"kind": content.kind, "skipped": len(skipped)}
        )
    return {d.to: d for d in deliveries}


def send_template_fallback(
    alert_id: str,
    original_id: str,
    failure: dict[str, Any],
    repo: AlertRepository,
    woosh: Callable[[], WooshClient],
    settings: Settings,
    now: datetime,
) -> str:
    """Resend the content of message `original_id` as the template, once (SPEC §5)."""
    alert = repo.get_alert(alert_id)  # consistent: a re-delivered record finds the fallback
    log = {"alert_id": alert_id, "message_id": original_id}
    if alert is None or original_id in alert.get("fallbacks", {}):
        return "fallback_already_sent"
    if alert.get("closed_at"):
        logger.info("no template fallback for a closed alert", extra=log)
        return "fallback_skipped_closed"
    to, round_no = str(failure["recipient"]), int(failure["round"])
    max_rounds = int(alert["escalation"]["max_rounds"])
    delivery = send_messages(
        repo,
        woosh(),
        settings,
        alert_id=alert_id,
        content=AlertContent(
            settings, StoredAlert.of(alert), alert_id, (round_no, max_rounds) if round_no > 0 else None
        ),
        recipients=[to],
        round_no=round_no,
        now=now,
        deadline=time.monotonic() + FALLBACK_SEND_SECONDS,
        channel="template",
        fallback_for=original_id,
    )[0]
    result = delivery.result
    error = result.error() or delivery.early_failure
    fallback = {
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
    stored = repo.record_fallback(alert_id, original_id, fallback, failure=failure_entry)
    if stored is None:
        return "fallback_already_sent"
    if failure_entry is not None:
        count("TemplateFallbackFailed")
        logger.warning("template fallback failed", extra={**log, "error_code": error and error.get("code")})
        if all_deliveries_failed(stored, round_no) and int(stored.get("rounds_sent", 0)) == round_no:
            repo.bring_forward(alert_id, round_no=round_no, now=epoch(now))
        return "fallback_failed"
    count("TemplateFallbackSent")
    logger.info("template fallback sent", extra={**log, "fallback_message_id": result.message_id})
    return "fallback_sent"
