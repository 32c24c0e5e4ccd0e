"""An alert's story (SPEC §13): `GET /alerts/{alert_id}`'s `timeline`, built from the alert item
and its message items. Pure.

One entry per thing that happened, oldest first, each with `at` and `kind`: every message sent
(or waiting, or refused) with its status history, every tap and reply, every escalation round,
the unanswered mark, the entrapment confirmation's steps and the close. Where the alert keeps
them:
- the sends of a round (`reminders`, round 0 included) and of a confirmation step
  (`confirm_sends`), keyed `<round>:<phone>`; a template that replaced a 131047 refusal
  (`fallbacks`); follow-up messages in their ledgers (`acks`, `notices`,
  `confirmation_notices`, each entry with its `kind`, `sent_at` and maybe its own `fallback`);
- taps (`responses`, `first_response`), replies (`messages_received`), YES taps
  (`confirmations`), rounds (`rounds`), and the marks `unanswered_at`, `confirmation`,
  `closed_at`.
Entries with the same `at` (whole seconds) keep the order in which they happened: what caused
something comes first (a round before its reminders, a tap before its acknowledgement and
notices, a refusal before its template fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lift_alerts.domain.alert_facts import everyone, sends_in_round
from lift_alerts.domain.alert_item import (
    QUEUED,
    REPORTED_STATUSES,
    AlertItem,
    MessageItem,
    SendRecord,
    status_time_attribute,
)
from lift_alerts.domain.ledgers import ledger_entries
from lift_alerts.domain.timestamps import iso_from_epoch

# A message kind as stored -> what the desk calls it.
WHAT = {
    "alert": "alert",
    "reminder": "reminder",
    "confirm_request": "confirmation",
    "confirm_reminder": "confirmation",
    "ack": "acknowledgement",
    "reply_ack": "acknowledgement",
    "notice": "notice",
    "confirm_confirmed": "notice",
    "confirm_missed": "notice",
    "critical": "critical",
}
# Causal order among entries of the same second (module docstring).
_PHASE = {
    "alert": 0,
    "escalated": 1,
    "unanswered": 1,
    "reminder": 2,
    "critical": 2,
    "tap": 3,
    "reply": 3,
    "confirmed": 3,
    "closed": 4,
    "confirmation_requested": 4,
    "confirmation_missed": 4,
    "confirmation": 5,
    "acknowledgement": 5,
    "notice": 5,
    "fallback": 6,
}
DROPPED = "dropped"


@dataclass(frozen=True)
class _Send:
    """One message sent (or queued, or refused) for the alert, as its send record keeps it."""

    to: str
    what: str
    round: int | None
    channel: str | None
    message_id: str | None
    error: Mapping[str, Any] | None
    at: str | None  # when its send ran, when the record says so


def timeline(alert: AlertItem, messages: Mapping[str, MessageItem]) -> list[dict[str, Any]]:
    """The alert's story, oldest first (`messages`: its message items by id, as found)."""
    entries = [_message_entry(send, messages.get(send.message_id or "")) for send in sends(alert)]
    entries += _taps(alert) + _replies(alert) + _steps(alert) + _confirmation(alert)
    return sorted(
        (entry for entry in entries if entry.get("at")),
        key=lambda entry: (_moment(str(entry["at"])), _PHASE.get(str(entry.get("what", entry["kind"])), 9)),
    )


def timeline_message_ids(alert: AlertItem) -> list[str]:
    """Every message id the timeline shows a status for."""
    return [send.message_id for send in sends(alert) if send.message_id]


def sends(alert: AlertItem) -> list[_Send]:
    """Every message of the alert, rounds first (by round, then in the order of people)."""
    order = {to: index for index, to in enumerate(everyone(alert))}
    rounds = _round_sends(alert) + _confirmation_sends(alert) + _fallback_sends(alert)
    rounds.sort(key=lambda send: (send.round or 0, order.get(send.to, len(order))))
    found = rounds + _ledger_sends(alert)
    known = {send.message_id for send in found if send.message_id}
    return found + _unrecorded_sends(alert, known)


def _round_sends(alert: AlertItem) -> list[_Send]:
    records = dict(alert.get("reminders", {}))
    if not sends_in_round(records, 0):
        # An alert stored before round 0 was recorded per send: its recipient lines.
        for to, line in alert.get("recipients", {}).items():
            if int(line.get("round", 0)) == 0 and line.get("send_status") != "pending":
                error = line.get("error") or ({"code": QUEUED} if line.get("send_status") == QUEUED else None)
                records[f"0:{to}"] = {
                    "message_id": line.get("message_id"),
                    "error": error,
                    "channel": line.get("channel"),  # type: ignore[typeddict-item]
                }
    found = []
    for key, record in records.items():
        round_key, _sep, to = key.partition(":")
        round_no = int(round_key)
        what = "alert" if round_no == 0 else "reminder"
        at = alert.get("created_at") if round_no == 0 else _round_time(alert, round_no)
        found += _record_sends(to, what, round_no, record, at)
    return found


def _round_time(alert: AlertItem, round_no: int) -> str | None:
    escalation_round = alert.get("rounds", {}).get(str(round_no))
    return escalation_round["sent_at"] if escalation_round else None


def _confirmation_sends(alert: AlertItem) -> list[_Send]:
    confirmation = alert.get("confirmation") or {}
    found = []
    for key, record in alert.get("confirm_sends", {}).items():
        step_key, _sep, to = key.partition(":")
        step = int(step_key)
        # No step keeps its own time: when it was due (sent within seconds of it).
        due = int(confirmation.get("requested_epoch", 0)) + step * int(confirmation.get("after_seconds", 0))
        at = iso_from_epoch(due) if confirmation.get("requested_epoch") else None
        found += _record_sends(to, "confirmation", step, record, at)
    return found


def _record_sends(to: str, what: str, round_no: int, record: SendRecord, at: str | None) -> list[_Send]:
    """One send record; a 131047 refusal the template replaced at once comes first, on its own."""
    channel = record.get("channel")
    send = _Send(to, what, round_no, channel, record.get("message_id"), record.get("error"), at)
    replaced = record.get("replaced_error")
    if not replaced:
        return [send]
    refused = _Send(
        to, what, round_no, "interactive" if what != "confirmation" else "text", None, replaced, at
    )
    return [refused, _Send(to, "fallback", round_no, "template", send.message_id, send.error, at)]


def _fallback_sends(alert: AlertItem) -> list[_Send]:
    return [
        _Send(
            str(fallback.get("to")),
            "fallback",
            fallback.get("round"),
            "template",
            fallback.get("message_id"),
            fallback.get("error"),
            fallback.get("sent_at"),
        )
        for fallback in alert.get("fallbacks", {}).values()
    ]


def _ledger_sends(alert: AlertItem) -> list[_Send]:
    found = []
    for _ledger, _key, entry in ledger_entries(alert):
        if entry.get("skipped"):
            continue  # nothing was sent: counted in the recipient's notices_skipped
        to, what = str(entry["to"]), WHAT.get(str(entry["kind"]), "notice")
        channel = entry.get("channel")
        found.append(
            _Send(to, what, None, channel, entry.get("message_id"), entry.get("error"), entry["sent_at"])
        )
        fallback = entry.get("fallback")
        if isinstance(fallback, dict):
            found.append(
                _Send(
                    to,
                    "fallback",
                    None,
                    "template",
                    fallback.get("message_id"),
                    fallback.get("error"),
                    fallback.get("sent_at") or entry["sent_at"],
                )
            )
    return found


def _unrecorded_sends(alert: AlertItem, known: set[str]) -> list[_Send]:
    """Messages the alert maps (`messages`) that no send record names (older alerts)."""
    return [
        _Send(
            str(ref.get("to")),
            WHAT.get(str(ref.get("kind") or "alert"), "notice"),
            ref.get("round"),
            ref.get("channel"),
            message_id,
            None,
            None,
        )
        for message_id, ref in alert.get("messages", {}).items()
        if message_id not in known
    ]


def _message_entry(send: _Send, message: MessageItem | None) -> dict[str, Any]:
    status, error = _status(send, message)
    at = (message or {}).get("sent_time") or send.at
    if at is None and message is not None and message.get("sent_at"):
        at = iso_from_epoch(int(message["sent_at"]))
    return {
        "at": at,
        "kind": "message",
        "to": send.to,
        "what": send.what,
        "round": send.round,
        "channel": send.channel or (message or {}).get("channel"),
        "message_id": send.message_id,
        "status": status,
        "statuses": status_history(message) if message is not None else [],
        "error": error,
    }


def _status(send: _Send, message: MessageItem | None) -> tuple[str, Mapping[str, Any] | None]:
    """The delivery status shown, and the error when it failed (or was not sent)."""
    code = (send.error or {}).get("code")
    if send.message_id is None:
        if code == QUEUED:
            return "queued", None
        return ("not_sent" if code == DROPPED else "failed"), send.error
    if message is None:
        return "accepted", None
    status = str(message.get("delivery_status", "accepted"))
    error = message.get("delivery_error") or send.error
    return status, (error if status == "failed" else None)


def status_history(message: MessageItem) -> list[dict[str, str]]:
    """Each status WhatsApp reported for the message with when it was first reported, in the
    order a message moves through them (`failed` last)."""
    times: Mapping[str, Any] = message
    return [
        {"status": status, "at": str(times[status_time_attribute(status)])}
        for status in REPORTED_STATUSES
        if times.get(status_time_attribute(status))
    ]


def _taps(alert: AlertItem) -> list[dict[str, Any]]:
    first = (alert.get("first_response") or {}).get("event_id")
    return [
        {"at": tap.get("responded_at"), "kind": "tap", **tap, "first": tap.get("event_id") == first}
        for tap in alert.get("responses", [])
    ]


def _replies(alert: AlertItem) -> list[dict[str, Any]]:
    return [
        {"at": reply.get("received_at"), "kind": "reply", **reply}
        for reply in alert.get("messages_received", [])
    ]


def _steps(alert: AlertItem) -> list[dict[str, Any]]:
    """Escalation rounds, the unanswered mark and the close."""
    entries: list[dict[str, Any]] = [
        {
            "at": r.get("sent_at"),
            "kind": "escalated",
            "round": r.get("round"),
            "reason": r.get("reason"),
            "recipients": list(r.get("recipients", [])),
        }
        for r in sorted(alert.get("rounds", {}).values(), key=lambda r: int(r.get("round", 0)))
    ]
    if alert.get("unanswered_at"):
        entries.append(
            {"at": alert["unanswered_at"], "kind": "unanswered", "rounds": alert.get("rounds_sent", 0)}
        )
    if alert.get("closed_at"):
        entries.append({"at": alert["closed_at"], "kind": "closed", "reason": alert.get("close_reason")})
    return entries


def _confirmation(alert: AlertItem) -> list[dict[str, Any]]:
    """The entrapment confirmation: asked, each YES (the first confirmed it), missed."""
    confirmation = alert.get("confirmation") or {}
    if not confirmation:
        return []
    entries: list[dict[str, Any]] = [
        {"at": confirmation.get("requested_at"), "kind": "confirmation_requested"}
    ]
    yeses = list(alert.get("confirmations", []))
    if not yeses and confirmation.get("confirmed_at"):
        yeses = [
            {"responded_at": confirmation["confirmed_at"], "responder": confirmation.get("confirmed_by")}
        ]
    for index, yes in enumerate(yeses):
        by = yes.get("responder") or {}
        entries.append(
            {
                "at": yes.get("responded_at"),
                "kind": "confirmed",
                "by": {"wa_id": by.get("wa_id"), "name": by.get("name")},
                "event_id": yes.get("event_id"),
                "first": index == 0,
            }
        )
    if confirmation.get("missed_at"):
        entries.append(
            {
                "at": confirmation["missed_at"],
                "kind": "confirmation_missed",
                "rounds": confirmation.get("rounds_sent", 0),
            }
        )
    return entries


def _moment(at: str) -> datetime:
    """An ISO 8601 time for ordering (a fraction of a second or an offset read too)."""
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
