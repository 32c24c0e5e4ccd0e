"""Replies that are not taps (SPEC §10): a text, voice note, media, location or contact card is
kept with the alert it belongs to, by the message it quotes (`context.id`), else the latest
alert sent to its sender within REPLY_WINDOW_SECONDS that is not closed; else it is unmatched
(counted). It never counts as a tap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lift_alerts.domain.inbound import Reply
from lift_alerts.domain.timestamps import epoch
from lift_alerts.flows.record_taps import matched
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.answers import ReplyResult
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import ConditionFailed, Written

# the person wrote may still be the one they answered.
REPLY_CLOCK_SKEW_SECONDS = 60


def _reply_record(reply: Reply, phone: str | None, matched_by: str) -> dict[str, Any]:
    sender: dict[str, Any] = {"wa_id": phone, "name": reply.name}
    if reply.user_id:
        sender["user_id"] = reply.user_id
    return {
        "event_id": reply.reply_id,
        "type": reply.type,
        "text": reply.text,
        "media_id": reply.media_id,
        "mime_type": reply.mime_type,
        "filename": reply.filename,
        "location": reply.location.model_dump() if reply.location else None,
        "from": sender,
        "received_at": reply.received_at,
        "matched_by": matched_by,
    }


def record_reply(
    reply: Reply, repos: Repositories, settings: Settings, log: dict[str, Any] | None = None
) -> str:
    """Keep a reply with the alert it belongs to; it never counts as a tap (SPEC §10).

    The alert is the one owning the quoted message (`context.id`: any message we sent for it,
    reminders and notices too); else the latest alert (or reminder) sent to the sender in the
    REPLY_WINDOW_SECONDS before they wrote that is not closed; else the reply is unmatched.
    """
    log = {} if log is None else log
    log.update(reply_id=reply.reply_id, reply_type=reply.type, context_id=reply.context_id)
    phone = reply.wa_id or (repos.contacts.phone_for_user(reply.user_id) if reply.user_id else None)
    if reply.context_id:
        message = repos.messages.find_message(reply.context_id)
        owner = message.get("alert_id") if message else None
        if owner:
            log["alert_id"] = str(owner)
            result = repos.answers.record_reply(
                str(owner), _reply_record(reply, phone, "context"), require_open=False
            )
            if not (isinstance(result, ConditionFailed) and result.reason == "unknown_alert"):
                return _reply_outcome(result, "context", log)
    if not phone:
        return _reply_unmatched("no_sender", log)
    written = epoch(datetime.fromisoformat(reply.received_at.replace("Z", "+00:00")))
    candidates = repos.messages.recently_paged_alert_ids(
        phone, since=written - settings.reply_window_seconds, until=written + REPLY_CLOCK_SKEW_SECONDS
    )
    record = _reply_record(reply, phone, "recent")
    for alert_id in candidates:
        # Latest first; a closed one is passed over (the write itself checks, so an alert
        # closed a moment ago is never given a reply meant for the next one).
        result = repos.answers.record_reply(alert_id, record, require_open=True)
        if isinstance(result, ConditionFailed) and result.reason in ("closed", "unknown_alert"):
            continue
        log["alert_id"] = alert_id
        return _reply_outcome(result, "recent", log)
    return _reply_unmatched("no_recent_alert", log)


def _reply_outcome(result: ReplyResult, matched_by: str, log: dict[str, Any]) -> str:
    if isinstance(result, Written):
        return matched("reply", "ReplyMatched", matched_by, log)
    if result.reason == "duplicate":
        count("ReplyDuplicate")
        return "reply_duplicate"
    if result.reason == "full":
        # The alert already holds as many replies as it may (taps must always fit).
        logger.warning("reply not kept: the alert holds its maximum of replies", extra=log)
        count("ReplyNotKept")
        return "reply_not_kept_full"
    return _reply_unmatched(result.reason, log)


def _reply_unmatched(reason: str, log: dict[str, Any]) -> str:
    logger.warning("reply matched no alert", extra={**log, "reason": reason})
    count("ReplyUnmatched")
    return f"reply_unmatched_{reason}"
