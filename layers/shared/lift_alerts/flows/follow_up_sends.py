"""Sending a follow-up message once per person (SPEC §10): acknowledgements, notices, critical
messages and confirmation notices, each recorded in one of the alert's ledgers under its key,
so a re-delivered stream record sends nothing twice. Every reaction of the follow-up function
(`follow_up.REACTIONS`) sends through `send_once`, with what `FollowUpContext` gives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.contents import Content
from lift_alerts.domain.deliveries import Delivery
from lift_alerts.domain.ledgers import ledger_of
from lift_alerts.domain.timestamps import iso
from lift_alerts.flows.queueing import enqueuer
from lift_alerts.flows.sending import send_messages
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.woosh.answers import RETRYABLE_ERRORS
from lift_alerts.woosh.client import WooshClient

FALLBACK_SEND_SECONDS = 20.0
# Woosh failures worth another try (an outage, a rate limit, no answer in time): a follow-up
# that failed with one raises, and Lambda retries the stream record (MaximumRetryAttempts).
TRANSIENT_SEND_ERRORS = frozenset(
    {*RETRYABLE_ERRORS, "send_failed", "connection_error", "timeout", "130429", "131056"}
)


class FollowUpRetry(RuntimeError):
    """Some follow-up sends failed for now; what succeeded is recorded, the record is retried."""


@dataclass(frozen=True)
class FollowUpContext:
    """What every reaction needs: data access, the Bridge (created on first use), settings, time."""

    repos: Repositories
    woosh: Callable[[], WooshClient]
    settings: Settings
    now: datetime


# A reaction looks at what one write changed on an alert (old and new image) and sends what
# that calls for; it returns what it did (for logs and tests). Each must be idempotent: a
# stream record can be delivered again.
Reaction = Callable[[FollowUpContext, AlertItem, AlertItem], list[str]]


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
    alert = ctx.repos.alerts.get_alert(alert_id)
    if alert is None:
        return {}
    recorded = ledger_of(alert, ledger)
    pending = {to: key for to, key in targets.items() if key not in recorded}
    if not pending:
        return {}
    deliveries = send_messages(
        ctx.repos,
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
            ctx.repos.queue,
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
    ctx.repos.ledgers.record_ledger(alert_id, ledger, entries, skipped=skipped)
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
