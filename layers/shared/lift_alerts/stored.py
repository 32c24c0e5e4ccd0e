"""The stored items as types, and the facts derived from them (SPEC §4, §6, §9, §10).

`AlertItem` is an `alert#<alert_id>` item of the alerts table, `MessageItem` a `msg#<message_id>`
item; `repository.py` reads and writes them (and is the only place that builds DynamoDB
expressions), everything else reads them through these types, so mypy checks every key. The
keys an alert created by an older version may lack are optional (`total=False`): readers use
`.get` with the default an absent key means.

The per-send ledgers (`reminders`, `confirm_sends`) are keyed `"<round>:<phone>"`: the key is
built and read here only (`send_key`, `sends_in_round`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from lift_alerts.channels import Channel
from lift_alerts.choices import most_severe
from lift_alerts.clock import epoch, iso
from lift_alerts.config import Settings
from lift_alerts.outbound import AlertFacts

# Delivery statuses only move forward: sent < delivered < read; failed is final (SPEC §6).
# A send record's error code (and a recipient line's send_status) for a message that got no
# send slot before its deadline and waits in the send queue (SPEC §11); the dispatcher sends it
# as soon as the budget allows.
QUEUED = "queued"
STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 9}


# ---------------------------------------------------------------- the alert item


class Person(TypedDict, total=False):
    """Who tapped or wrote: a phone (`wa_id`, absent for a business-scoped user id only)."""

    wa_id: str | None
    name: str | None
    user_id: str


class RecipientLine(TypedDict, total=False):
    """`recipients.<phone>`: the first message a person got (a reminder never replaces it)."""

    to: str
    message_id: str | None
    send_status: str  # pending, accepted, queued, failed
    error: dict[str, Any] | None
    round: int
    channel: str
    fallback: bool
    sent_at: str


class MessageRef(TypedDict, total=False):
    """`messages.<message_id>`: a message of the alert a tap can quote (`context.id`)."""

    to: str
    round: int | None
    channel: str | None
    kind: str


class Failure(TypedDict, total=False):
    """`failures.<key>`: one delivery failure, published once as "Alert Delivery Failed"
    unless a template fallback replaces it (`replaced_by_fallback`)."""

    event_id: str
    recipient: str
    message_id: str | None
    error: dict[str, Any]
    round: int | None
    replaced_by_fallback: bool
    confirmation_step: int


class SendAnswer(TypedDict, total=False):
    """What Woosh answered to one send: the message id, or the error (both None: pending)."""

    message_id: str | None
    error: dict[str, Any] | None


class SendRecord(SendAnswer, total=False):
    """`reminders.<round>:<phone>` / `confirm_sends.<step>:<phone>`: one send of a claimed
    round, written right after Woosh answered (a run taking over skips this person); with the
    channel, the 131047 refusal the template replaced at once, and whether a `failed` status
    came before the mapping and the follow-up function resends it as the template."""

    channel: Channel | None
    replaced_error: dict[str, Any] | None
    early_fallback: bool


class Fallback(SendAnswer, total=False):
    """`fallbacks.<original message id>`: the template that replaced a 131047 failure."""

    to: str
    round: int
    sent_at: str


class Escalation(TypedDict, total=False):
    """`escalation`: a reminder round every `after_seconds` until `max_rounds`; from the first
    reminder on, `recipients` (the next level) are reminded too (SPEC §9)."""

    after_seconds: int
    max_rounds: int
    recipients: list[str]


class EscalationRound(TypedDict):
    """`rounds.<n>`: a reminder round as published ("Alert Escalated")."""

    round: int
    recipients: list[str]
    reason: str
    sent_at: str


class Claim(TypedDict, total=False):
    """A timer run's lease on one step (`confirm_claim`; `claim` is an `EscalationClaim`): a
    run that finds `lease_until` (epoch seconds) passed takes the step over (its run crashed)."""

    step: int
    lease_until: int


class EscalationClaim(Claim, total=False):
    reason: str  # why the round is sent; a run taking the round over keeps it


class Confirmation(TypedDict, total=False):
    """`confirmation`: the entrapment confirmation (SPEC §10), present once it was asked."""

    requested_at: str
    requested_epoch: int
    after_seconds: int
    max_rounds: int
    steps_done: int
    rounds_sent: int
    next_due_at: str | None
    confirmed_at: str
    confirmed_by: Person
    missed_at: str


class AlertItem(TypedDict, total=False):
    pk: str
    kind: str
    alert_id: str
    ticket_id: str
    lift_id: str
    site: str
    floor: str
    note: str
    created_at: str
    created_epoch: int
    expires_at: int
    recipient_order: list[str]
    recipients: dict[str, RecipientLine]
    messages: dict[str, MessageRef]
    # Tap ids seen (taps and YES), and the taps that classify, oldest first.
    taps: dict[str, bool]
    responses: list[dict[str, Any]]
    first_response: dict[str, Any]
    failures: dict[str, Failure]
    fallbacks: dict[str, Fallback]
    # Follow-up ledgers (followup.send_once): entries keyed by tap id or "<what>:<phone>".
    acks: dict[str, dict[str, Any]]
    notices: dict[str, dict[str, Any]]
    confirmation_notices: dict[str, dict[str, Any]]
    notices_skipped: dict[str, int]
    # Replies that are not taps, oldest first; their ids and size (SPEC §10).
    messages_received: list[dict[str, Any]]
    reply_ids: set[str]
    reply_bytes: int
    reminders: dict[str, SendRecord]
    rounds: dict[str, EscalationRound]
    completed_rounds: dict[str, str]
    rounds_sent: int
    escalation: Escalation
    claim: EscalationClaim
    due_shard: str
    due_at: int
    unanswered_at: str
    closed_at: str
    close_reason: str
    confirmation: Confirmation
    confirm_sends: dict[str, SendRecord]
    confirm_claim: Claim
    confirm_shard: str
    confirm_due_at: int
    confirmations: list[dict[str, Any]]


class MessageItem(TypedDict, total=False):
    """`msg#<message_id>`: which alert and person a message we sent belongs to, and its
    delivery status (created by a status that arrives before the mapping, then completed)."""

    pk: str
    alert_id: str
    recipient: str
    kind: str
    channel: str
    round_no: int
    fallback_for: str
    sent_at: int
    expires_at: int
    delivery_status: str
    status_rank: int
    status_at: str
    delivery_error: dict[str, Any]


def new_alert(
    alert_id: str,
    facts: AlertFacts,
    recipients: list[str],
    escalation: Escalation,
    now: datetime,
    *,
    expires_at: int,
) -> AlertItem:
    """A new alert as POST /alerts stores it, before anything is sent: every map it will
    collect is there from the start (updates set entries in them, never create them)."""
    return {
        "kind": "alert",
        "alert_id": alert_id,
        "ticket_id": facts.ticket_id,
        "lift_id": facts.lift_id,
        "site": facts.site,
        "floor": facts.floor,
        "note": facts.note,
        "created_at": iso(now),
        "created_epoch": epoch(now),
        "recipient_order": recipients,
        "recipients": {
            to: {"to": to, "message_id": None, "send_status": "pending", "round": 0} for to in recipients
        },
        "messages": {},
        "taps": {},
        "responses": [],
        "failures": {},
        "fallbacks": {},
        # Follow-up ledgers (followup.send_once) and the people skipped outside their window.
        "acks": {},
        "notices_skipped": {},
        "notices": {},
        # Replies that are not taps, oldest first (their ids: the string set `reply_ids`).
        "messages_received": [],
        "confirmation_notices": {},
        "reminders": {},
        "rounds": {},
        "completed_rounds": {},
        "rounds_sent": 0,
        "escalation": escalation,
        "expires_at": expires_at,
    }


# ---------------------------------------------------------------- facts about an alert


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
        return cls(
            ticket_id=str(alert["ticket_id"]),
            lift_id=str(alert["lift_id"]),
            site=str(alert.get("site") or ""),
            floor=str(alert.get("floor") or ""),
            note=str(alert.get("note") or ""),
        )


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


# ---------------------------------------------------------------- follow-up ledgers (SPEC §10)

# Alert maps that are not follow-up ledgers (their entries never carry `kind` and `sent_at`
# together, but naming them keeps a future field from being taken for one).
_NOT_LEDGERS = frozenset(
    {"recipients", "messages", "failures", "fallbacks", "reminders", "rounds", "completed_rounds", "taps"}
)
# The message kinds the notice template (NOTICE_TEMPLATE_NAME) stands in for outside the window.
NOTICE_KINDS = frozenset({"ack", "notice", "critical"})


def is_follow_up_message(message: MessageItem) -> bool:
    """A msg# item of a follow-up message: no alert round, a kind other than alert/reminder."""
    return "round_no" not in message and message.get("kind") not in (None, "alert", "reminder")


def follow_up_template(settings: Settings, kind: str | None) -> str | None:
    """The approved template a follow-up message of `kind` falls back to, if any."""
    return settings.notice_template_name if kind in NOTICE_KINDS else None


def ledger_of(alert: AlertItem, name: str) -> dict[str, dict[str, Any]]:
    """A follow-up ledger of the alert by name (empty when the alert has none)."""
    entries = alert.get(name, {})
    return entries if isinstance(entries, dict) else {}


def ledger_entries(alert: AlertItem) -> list[tuple[str, str, dict[str, Any]]]:
    """Every follow-up ledger entry on the alert: (ledger, key, entry), as `send_once` wrote them."""
    found = []
    for name, entries in alert.items():
        if name in _NOT_LEDGERS or not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            if isinstance(entry, dict) and "kind" in entry and "sent_at" in entry and "to" in entry:
                found.append((name, str(key), entry))
    return found


def find_ledger_entry(alert: AlertItem, message_id: str) -> tuple[str, str, str] | None:
    """The ledger entry that sent `message_id`: (ledger, key, field the failure goes in).

    `failure` for the entry's own message, `fallback_failure` for its template fallback.
    """
    for name, key, entry in ledger_entries(alert):
        if entry.get("message_id") == message_id:
            return name, key, "failure"
        if (entry.get("fallback") or {}).get("message_id") == message_id:
            return name, key, "fallback_failure"
    return None
