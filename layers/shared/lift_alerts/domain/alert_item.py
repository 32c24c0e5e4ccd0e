"""The stored items as types (SPEC §4, §6, §9, §10): one typed home for every key.

`AlertItem` is an `alert#<alert_id>` item of the alerts table, `MessageItem` a
`msg#<message_id>` item; the repositories in `store/` read and write them (and are the only
place that builds DynamoDB expressions), everything else reads them through these types, so
mypy checks every key. The keys an alert created by an older version may lack are optional
(`total=False`): readers use `.get` with the default an absent key means. The facts derived
from them live beside them, in `alert_facts` and `ledgers`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from lift_alerts.domain.channels import Channel
from lift_alerts.domain.outbound import AlertFacts
from lift_alerts.domain.timestamps import epoch, iso

# Delivery statuses only move forward: sent < delivered < read; failed is final (SPEC §6).
# A send record's error code (and a recipient line's send_status) for a message that got no
# send slot before its deadline and waits in the send queue (SPEC §11); the dispatcher sends it
# as soon as the budget allows.
QUEUED = "queued"
STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 9}
# The statuses WhatsApp reports, in the order a message moves through them.
REPORTED_STATUSES = ("sent", "delivered", "read", "failed")


def status_time_attribute(status: str) -> str:
    """The message item's attribute that keeps when `status` was first reported (SPEC §13)."""
    return f"status_{status}_at"


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
    # Follow-up ledgers (flows.follow_up_sends.send_once): entries keyed by tap id or "<what>:<phone>".
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
    # The list index's partition: "open" from creation, "closed" from the close (SPEC §13).
    list_state: str


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
    # When it was sent (ISO 8601, every kind; `sent_at` is ReplyIndex's key, alerts and
    # reminders only), and when each status was first reported (`status_time_attribute`).
    sent_time: str
    status_sent_at: str
    status_delivered_at: str
    status_read_at: str
    status_failed_at: str


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
        # Follow-up ledgers (flows.follow_up_sends.send_once) and the people skipped outside their window.
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
