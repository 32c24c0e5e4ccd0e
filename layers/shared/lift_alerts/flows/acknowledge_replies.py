"""Replies that are not taps, after they were kept (SPEC §10): acknowledge each one once.

The webhook keeps a reply on its alert (`keep_replies.record_reply`) and answers; the table's
stream brings the write here (FollowUpFunction), outside the webhook's answer path. Each
reply the write added gets one text to its sender, recorded in the alert's `acks` ledger
under the reply's id, so a re-delivered stream record or webhook sends nothing twice.
"""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.contents import ReplyAck, fresh
from lift_alerts.domain.wording import reply_ack_text
from lift_alerts.flows.follow_up_sends import FollowUpContext, send_once

ACK_LEDGER = "acks"


def added_replies(old: AlertItem, new: AlertItem) -> list[dict[str, Any]]:
    """The replies one write appended to `messages_received`."""
    replies: list[dict[str, Any]] = new.get("messages_received", [])
    return replies[len(old.get("messages_received", [])) :]


def acknowledge_replies(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """Reaction (follow_up.REACTIONS): send each newly kept reply's sender one acknowledgement."""
    done: list[str] = []
    for reply in added_replies(old, new):
        to = (reply.get("from") or {}).get("wa_id")
        if not to:
            done.append("reply_ack_no_phone")  # only a user id, never seen with a phone
            continue
        content = ReplyAck(
            text=reply_ack_text(
                reply_type=str(reply.get("type")),
                ticket_id=str(new["ticket_id"]),
                lift_id=str(new["lift_id"]),
                site=str(new.get("site") or ""),
            ),
            fresh=fresh(reply.get("received_at"), ctx.now),
        )
        key = str(reply["event_id"])
        sent = send_once(ctx, str(new["alert_id"]), ledger=ACK_LEDGER, targets={to: key}, content=content)
        delivery = sent.get(to)
        if delivery is None:
            done.append("reply_ack_already_sent")
        elif delivery.skipped:
            done.append("reply_ack_skipped")
        else:
            done.append("reply_ack_sent" if delivery.result.accepted else "reply_ack_failed")
    return done
