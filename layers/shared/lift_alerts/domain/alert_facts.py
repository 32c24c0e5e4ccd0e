"""Facts derived from a stored alert (SPEC §4, §9): its state, outcome, who was messaged, whether a
round failed, and the records a round writes on it. Pure: reads `AlertItem`s, writes nothing.

The per-send ledgers (`reminders`, `confirm_sends`) are keyed `"<round>:<phone>"`: the key is
built and read here only (`send_key`, `sends_in_round`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.domain.alert_item import AlertItem, Failure, SendRecord
from lift_alerts.domain.choices import most_severe
from lift_alerts.domain.timestamps import epoch
from lift_alerts.platform.config import Settings


def state(alert: AlertItem) -> str:
    if alert.get("closed_at"):
        return "closed"
    if alert.get("responses"):
        return "answered"
    if alert.get("unanswered_at"):
        return "unanswered"
    return "awaiting_response"


def outcome(responses: Iterable[Mapping[str, Any]]) -> str | None:
    """The most severe choice among the taps (severity only rises)."""
    return most_severe(str(r.get("choice")) for r in responses)


@dataclass(frozen=True)
class StoredAlert:
    """The facts a message is rendered from, as stored on the alert."""

    ticket_id: str
    lift_id: str
    site: str
    floor: str
    note: str

    @classmethod
    def of(cls, alert: AlertItem) -> StoredAlert:
        """The alert's own facts: ticket and lift always stored, place and note possibly empty."""
        optional = (str(alert.get(name) or "") for name in ("site", "floor", "note"))
        return cls(str(alert["ticket_id"]), str(alert["lift_id"]), *optional)


def everyone(alert: AlertItem) -> list[str]:
    """Recipients and escalation recipients, each once, in the order they were given."""
    ordered = dict.fromkeys(alert.get("recipient_order", []))
    ordered.update(dict.fromkeys(alert.get("escalation", {}).get("recipients", [])))
    return list(ordered)


def people_messaged(alert: AlertItem) -> list[str]:
    """Everyone the alert was sent to: recipients, and escalation recipients once reminded
    (a person joins `recipients` with the first message they were sent)."""
    sent_to = alert.get("recipients", {})
    return [to for to in everyone(alert) if to in sent_to]


def messaged(alert: AlertItem) -> list[str]:
    """Everyone sent a message of the alert (round 0, reminders, fallbacks), in list order.

    An escalation recipient is in it once a reminder round sent them one.
    """
    sent_to = {str(m.get("to")) for m in alert.get("messages", {}).values()}
    return [to for to in everyone(alert) if to in sent_to]


def message_ids(alert: AlertItem) -> list[str]:
    """The messages GET shows a status for: each recipient's first message and its fallback."""
    ids = [str(e["message_id"]) for e in alert.get("recipients", {}).values() if e.get("message_id")]
    ids += [str(f["message_id"]) for f in alert.get("fallbacks", {}).values() if f.get("message_id")]
    return ids


def round_recipients(alert: AlertItem, round_no: int) -> list[str]:
    """Who a round was sent to (round 0 is the first send)."""
    if round_no == 0:
        return list(alert.get("recipient_order", []))
    escalation_round = alert.get("rounds", {}).get(str(round_no))
    return list(escalation_round["recipients"]) if escalation_round else []


def all_deliveries_failed(alert: AlertItem, round_no: int) -> bool:
    """True once every message of a completed round has failed (at send or by a `failed` status)."""
    if str(round_no) not in alert.get("completed_rounds", {}):
        return False
    attempted = set(round_recipients(alert, round_no))
    failed = {
        f.get("recipient")
        for f in alert.get("failures", {}).values()
        # A failure the template fallback replaces is not a failed delivery (SPEC §5).
        if f.get("round") == round_no and not f.get("replaced_by_fallback")
    }
    return bool(attempted) and attempted <= failed


# ---------------------------------------------------------------- the per-send ledgers


def send_key(round_no: int, to: str) -> str:
    """The key of one send of a round in `reminders` / `confirm_sends`."""
    return f"{round_no}:{to}"


def sends_in_round(records: Mapping[str, SendRecord], round_no: int) -> dict[str, SendRecord]:
    """The sends recorded for one round, by phone (the inverse of `send_key`)."""
    return {
        to: record
        for key, record in records.items()
        for round_key, _sep, to in [key.partition(":")]
        if round_key == str(round_no)
    }


# ---------------------------------------------------------------- records written on an alert


def expiry(settings: Settings, now: datetime) -> int:
    return epoch(now) + settings.retention_days * 86_400


def failure_record(
    alert_id: str,
    round_no: int,
    to: str,
    message_id: str | None,
    error: Mapping[str, Any],
    *,
    replaced_by_fallback: bool = False,
    fallback: bool = False,
) -> tuple[str, Failure]:
    """The key and value of one delivery failure on the alert; the key makes it recorded once.

    `replaced_by_fallback`: a 131047 failure the template fallback replaces (or will): kept
    for the history, neither published nor counted as a failed delivery of the round.
    `fallback`: the failure is the fallback's own (a send that failed has no message id, so
    its key must differ from the original's).
    """
    suffix = ":fallback" if fallback else ""
    if message_id is None:
        key, event_id = f"send:{round_no}:{to}{suffix}", f"{alert_id}:{round_no}:{to}{suffix}:failed"
    else:
        key, event_id = message_id, f"{message_id}:failed"
    record: Failure = {
        "event_id": event_id,
        "recipient": to,
        "message_id": message_id,
        "error": {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))},
        "round": round_no,
    }
    if replaced_by_fallback:
        record["replaced_by_fallback"] = True
    return key, record
