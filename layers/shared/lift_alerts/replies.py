"""Replies that are not taps, after they were kept (SPEC §10): acknowledge each one once.

The webhook keeps a reply on its alert (`updates.record_reply`) and answers; the table's
stream brings the write here (FollowUpFunction), outside the webhook's answer path. Each
reply the write added gets one text to its sender, recorded in the alert's `acks` ledger
under the reply's id, so a re-delivered stream record or webhook sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lift_alerts.channels import Channel, window_open
from lift_alerts.clock import epoch
from lift_alerts.outbound import text_body
from lift_alerts.stored import AlertItem
from lift_alerts.texts import reply_ack_text

if TYPE_CHECKING:
    from lift_alerts.followup import FollowUpContext

ACK_LEDGER = "acks"


@dataclass(frozen=True)
class ReplyAck:
    """The acknowledgement of one reply: a text, sent inside the person's 24-hour window.

    The reply itself opened that window, so a fresh reply needs no look-up (`outside` is text
    too). A reply processed over a day late (parked through a long outage) is acknowledged
    only if the person wrote again since; there is no template for it.
    """

    text: str
    fresh: bool

    @property
    def kind(self) -> str:
        return "reply_ack"

    @property
    def inside(self) -> Channel:
        return "text"

    @property
    def outside(self) -> Channel | None:
        return "text" if self.fresh else None

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        if channel != "text":
            return None
        return text_body(to, self.text)


def added_replies(old: AlertItem, new: AlertItem) -> list[dict[str, Any]]:
    """The replies one write appended to `messages_received`."""
    replies: list[dict[str, Any]] = new.get("messages_received", [])
    return replies[len(old.get("messages_received", [])) :]


def acknowledge_replies(ctx: FollowUpContext, old: AlertItem, new: AlertItem) -> list[str]:
    """Reaction (followup.REACTIONS): send each newly kept reply's sender one acknowledgement."""
    from lift_alerts.followup import send_once

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
            fresh=_fresh(reply.get("received_at"), ctx.now),
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


def _fresh(received_at: Any, now: datetime) -> bool:
    try:
        written = epoch(datetime.fromisoformat(str(received_at).replace("Z", "+00:00")))
    except ValueError:
        return False
    return window_open(written, epoch(now))
