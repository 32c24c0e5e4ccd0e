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

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.clock import epoch, iso
from lift_alerts.config import Settings
from lift_alerts.dispatch import SendQueue, enqueuer
from lift_alerts.notices import NOTICE_REACTIONS, notice_fallback_content
from lift_alerts.observability import count, logger
from lift_alerts.replies import acknowledge_replies
from lift_alerts.repository import AlertRepository, alert_from_item, is_alert_item
from lift_alerts.sending import AlertContent, Content, Delivery, send_messages
from lift_alerts.stored import (
    AlertItem,
    Fallback,
    StoredAlert,
    all_deliveries_failed,
    failure_record,
    ledger_entries,
    ledger_of,
)
from lift_alerts.table import Written
from lift_alerts.windows import record_stored_windows
from lift_alerts.woosh import RETRYABLE_ERRORS, WooshClient

FALLBACK_SEND_SECONDS = 20.0
# Woosh failures worth another try (an outage, a rate limit, no answer in time): a follow-up
# that failed with one raises, and Lambda retries the stream record (MaximumRetryAttempts).
TRANSIENT_SEND_ERRORS = frozenset(
    {*RETRYABLE_ERRORS, "send_failed", "connection_error", "timeout", "130429", "131056"}
)


class FollowUpRetry(RuntimeError):
    """Some follow-up sends failed for now; what succeeded is recorded, the record is retried."""


def fallbacks_due(old: AlertItem | None, new: AlertItem | None) -> list[tuple[str, Mapping[str, Any]]]:
    """The failures this change added that a template fallback replaces: (message id, failure).

    A failure refused at send time (no message id) was already replaced by the send step.
    """
    if new is None:
        return []
    before = (old or {}).get("failures", {})
    due: list[tuple[str, Mapping[str, Any]]] = [
        (key, failure)
        for key, failure in new.get("failures", {}).items()
        if key not in before and failure.get("replaced_by_fallback") and failure.get("message_id")
    ]
    # Follow-up messages (acknowledgements, notices, …): the failure is on their ledger entry
    # (a later `failed` status), or the entry was written already failed (a status that came
    # before the mapping: `early_fallback`).
    earlier = {(ledger, key): entry for ledger, key, entry in ledger_entries(old or {})}
    for ledger, key, entry in ledger_entries(new):
        prior = earlier.get((ledger, key))
        failure = entry.get("failure") or {}
        newly_failed = bool(failure.get("replaced_by_fallback")) and not (prior or {}).get("failure")
        born_failed = bool(entry.get("early_fallback")) and prior is None
        if entry.get("message_id") and (newly_failed or born_failed):
            due.append(
                (
                    str(entry["message_id"]),
                    {"ledger": ledger, "key": key, "recipient": entry["to"], "kind": entry["kind"]},
                )
            )
    return due


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
Reaction = Callable[[FollowUpContext, AlertItem, AlertItem], list[str]]


def template_fallbacks(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    return [
        send_template_fallback(
            str(new["alert_id"]), original_id, failure, ctx.repo, ctx.woosh, ctx.settings, ctx.now
        )
        for original_id, failure in fallbacks_due(old, new)
    ]


def entrapment_confirmation(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    # Imported here: confirmation.py builds on send_once from this module.
    from lift_alerts.confirmation import confirmation_followups

    return confirmation_followups(ctx, old, new)


REACTIONS: tuple[Reaction, ...] = (
    # First: the acknowledgement of a tap or reply this change stored is sent below, and
    # chooses its channel from the window the tap or reply just opened (SPEC §5, §10).
    record_stored_windows,
    template_fallbacks,
    *NOTICE_REACTIONS,
    acknowledge_replies,
    entrapment_confirmation,
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


def send_once(
    ctx: FollowUpContext,
    alert_id: str,
    *,
    ledger: str,
    targets: dict[str, str],
    content: Content,
    details: dict[str, Any] | None = None,
    retry_transient: bool = False,
) -> dict[str, Delivery]:
    """Send `content` to each person in `targets` (phone -> ledger key) not yet in the alert's
    `ledger` map, and record one entry per key (acknowledgements, notices, critical messages).

    The ledger is read consistently before the send and each entry written after it only if
    absent, so a re-delivered stream record sends nothing twice; a run that dies between the
    send and the record sends again on the retry (a duplicate notice is safer than none).
    A person outside the window with no template for this kind is skipped, counted in the
    alert's `notices_skipped` and recorded (`skipped`), so a retried record counts them once.
    `details` are kept on every entry (e.g. the text, for a template fallback). With
    `retry_transient`, a send that failed for now (TRANSIENT_SEND_ERRORS) is not recorded and
    FollowUpRetry is raised after the rest is: Lambda retries the record and sends only it.
    The ledger map must exist on the alert (created with it).
    """
    alert = ctx.repo.get_alert(alert_id)
    if alert is None:
        return {}
    recorded = ledger_of(alert, ledger)
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
        # No send slot in time: the message waits in the send queue (SPEC §11), kept as worded,
        # and its ledger entry says `queued` until the dispatcher settles it.
        enqueue=enqueuer(
            SendQueue(ctx.repo.table_name),
            alert,
            round_no=0,
            kind=content.kind,
            order=list(pending),
            settings=ctx.settings,
            ledger=ledger,
            keys=pending,
            content=content,
        ),
    )
    transient = {d.to for d in deliveries if retry_transient and d.result.error_code in TRANSIENT_SEND_ERRORS}
    entries = {
        pending[d.to]: {
            "to": d.to,
            "kind": content.kind,
            "sent_at": iso(ctx.now),
            **(details or {}),
            **({"skipped": True} if d.skipped else d.record()),
        }
        for d in deliveries
        if d.to not in transient
    }
    skipped = [d.to for d in deliveries if d.skipped]
    ctx.repo.record_ledger(alert_id, ledger, entries, skipped=skipped)
    if skipped:
        count("NoticeSkipped", len(skipped))
        logger.info(
            "people outside the window skipped", extra={"kind": content.kind, "skipped": len(skipped)}
        )
    failed = [d for d in deliveries if not d.skipped and not d.queued and not d.result.accepted]
    if failed:
        count("FollowUpSendFailed", len(failed))
        logger.warning(
            "follow-up send failed",
            extra={
                "kind": content.kind,
                "error_codes": sorted({str(d.result.error_code) for d in failed}),
                "retried": len(transient),
            },
        )
    if transient:
        raise FollowUpRetry(f"{len(transient)} {content.kind} send(s) to retry")
    return {d.to: d for d in deliveries}


def send_template_fallback(
    alert_id: str,
    original_id: str,
    failure: Mapping[str, Any],
    repo: AlertRepository,
    woosh: Callable[[], WooshClient],
    settings: Settings,
    now: datetime,
) -> str:
    """Resend the content of message `original_id` as the template, once (SPEC §5)."""
    if failure.get("ledger"):
        return _send_ledger_fallback(
            FollowUpContext(repo, woosh, settings, now), alert_id, original_id, failure
        )
    alert = repo.get_alert(alert_id)  # consistent: a re-delivered record finds the fallback
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
    delivery = _send_template(repo, woosh(), settings, alert_id, original_id, content, to, round_no, now)
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
    stored = repo.record_fallback(alert_id, original_id, fallback, failure=failure_entry)
    if not isinstance(stored, Written):
        return "fallback_already_sent"
    latest = int(stored.item.get("rounds_sent", 0)) == round_no
    if failure_entry is not None and latest and all_deliveries_failed(stored.item, round_no):
        repo.bring_forward(alert_id, round_no=round_no, now=epoch(now))
    return _fallback_outcome(delivery, log)


def _send_ledger_fallback(
    ctx: FollowUpContext, alert_id: str, original_id: str, failure: Mapping[str, Any]
) -> str:
    """A follow-up message (acknowledgement, notice, …) refused with 131047: its template, once.

    The text is the one its ledger entry kept; the fallback is recorded on that entry (never
    in the alert's `failures`: a follow-up message is no delivery of the alert's rounds).
    """
    ledger, key = str(failure["ledger"]), str(failure["key"])
    alert = ctx.repo.get_alert(alert_id)
    entry = ledger_of(alert, ledger).get(key) if alert is not None else None
    if entry is None or "fallback" in entry:
        return "fallback_already_sent"
    content = notice_fallback_content(ctx.settings, entry)
    if content is None:
        return "fallback_skipped_no_template"
    to, now = str(entry["to"]), ctx.now
    delivery = _send_template(
        ctx.repo, ctx.woosh(), ctx.settings, alert_id, original_id, content, to, None, now
    )
    result = delivery.result
    if result.error_code in TRANSIENT_SEND_ERRORS:
        count("FollowUpSendFailed")
        raise FollowUpRetry(f"template fallback of a {content.kind} to retry")
    error = result.error() or delivery.early_failure
    fallback = {"message_id": result.message_id, "error": error, "channel": "template", "sent_at": iso(now)}
    if not isinstance(ctx.repo.set_ledger_field(alert_id, ledger, key, "fallback", fallback), Written):
        return "fallback_already_sent"
    return _fallback_outcome(
        delivery, {"alert_id": alert_id, "message_id": original_id, "kind": content.kind}
    )


def _send_template(
    repo: AlertRepository,
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
        repo,
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
