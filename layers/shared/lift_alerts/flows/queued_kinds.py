"""How the dispatcher handles each kind of queued message when its turn comes (SPEC §11).

What a queued message says is decided when its turn comes, from the stored alert (`KINDS`):
a first alert, reminder or confirmation question is rendered again from the alert; a text
(acknowledgement, notice, critical message) is sent as it was worded when it was queued,
kept on the item. A message whose reason is gone by then is dropped, recorded as such: a
reminder or critical message of an alert answered or closed meanwhile, a confirmation
question or reminder once confirmed, missed or closed, a first alert of a closed alert.
Everything else goes out: a first alert of an alert answered meanwhile is still sent (SPEC
§11: sent as soon as the limits allow), its tap is acknowledged with who answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from lift_alerts.domain.alert_facts import StoredAlert, all_deliveries_failed, send_key
from lift_alerts.domain.alert_item import QUEUED, AlertItem, SendRecord
from lift_alerts.domain.contents import AlertContent, ConfirmContent, Content, StoredContent
from lift_alerts.domain.deliveries import Delivery, round_records, step_records
from lift_alerts.domain.timestamps import iso
from lift_alerts.flows.wake_up_schedule import bring_step_forward
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.send_queue import QueuedSend

CONFIRM_SENDS = "confirm_sends"
DROPPED = "dropped"


@dataclass(frozen=True)
class Turn:
    """One claimed entry's turn: the entry, its alert as read when the turn came, the time,
    and where its send is recorded."""

    entry: QueuedSend
    alert: AlertItem
    repos: Repositories
    settings: Settings
    now: datetime

    def ledger_record(self) -> SendRecord | None:
        return _ledger_record(self.entry, self.alert)


Check = Callable[[QueuedSend, AlertItem], str | None]


@dataclass(frozen=True)
class QueuedKind:
    """How the dispatcher handles one family of queued messages when their turn comes.

    `stale`: why the message should no longer go out (None: it should). `content`: what it
    says. `earlier`: its send record on the alert when a run that died already sent it (only
    the bookkeeping is left). `remember`: the send record, written right after Woosh
    answered. `finish`: the rest of the bookkeeping, once the mapping is stored; returns the
    outcome. `drop`: record that it will never go out. `follow_up`: its message belongs to no
    escalation round.
    """

    stale: Check
    content: Callable[[QueuedSend, AlertItem, Settings], Content]
    earlier: Callable[[QueuedSend, AlertItem], SendRecord | None]
    remember: Callable[[Turn, Delivery], None]
    finish: Callable[[Turn, Delivery], str]
    drop: Callable[[Turn, str], None]
    follow_up: bool


def _answered_or_closed(entry: QueuedSend, alert: AlertItem) -> str | None:
    if alert.get("closed_at"):
        return "alert_closed"
    return "alert_answered" if alert.get("responses") else None


def _closed(entry: QueuedSend, alert: AlertItem) -> str | None:
    return "alert_closed" if alert.get("closed_at") else None


def _confirmation_over(entry: QueuedSend, alert: AlertItem) -> str | None:
    confirmation = alert.get("confirmation") or {}
    if confirmation.get("confirmed_at"):
        return "provider_confirmed"
    if confirmation.get("missed_at"):
        return "confirmation_missed"
    return _closed(entry, alert)


def _unless_confirmed(entry: QueuedSend, alert: AlertItem) -> str | None:
    return "provider_confirmed" if (alert.get("confirmation") or {}).get("confirmed_at") else None


def _never_stale(entry: QueuedSend, alert: AlertItem) -> str | None:
    return None


def _unsent(record: Mapping[str, Any] | None) -> bool:
    return record is None or (record.get("error") or {}).get("code") in (QUEUED, DROPPED)


def _dropped(reason: str) -> SendRecord:
    return {"message_id": None, "error": {"code": DROPPED, "title": reason}}


# -- first alerts and reminders: recorded per round (`reminders`, the recipient line) ----------


def _round_content(entry: QueuedSend, alert: AlertItem, settings: Settings) -> Content:
    max_rounds = int(alert["escalation"]["max_rounds"])
    reminder = (entry.round_no, max_rounds) if entry.round_no > 0 else None
    return AlertContent(settings, StoredAlert.of(alert), entry.alert_id, reminder)


def _round_earlier(entry: QueuedSend, alert: AlertItem) -> SendRecord | None:
    record = alert.get("reminders", {}).get(send_key(entry.round_no, entry.to))
    return None if _unsent(record) else record


def _round_remember(turn: Turn, delivery: Delivery) -> None:
    turn.repos.ledgers.record_reminder(
        turn.entry.alert_id, turn.entry.round_no, delivery.to, delivery.record()
    )


def _queued_line_is_this(entry: QueuedSend, alert: AlertItem) -> bool:
    line = alert.get("recipients", {}).get(entry.to) or {}
    return line.get("send_status") == QUEUED and int(line.get("round", -1)) == entry.round_no


def _round_finish(turn: Turn, delivery: Delivery) -> str:
    entry = turn.entry
    records = round_records(entry.alert_id, entry.round_no, [delivery])
    mine = _queued_line_is_this(entry, turn.alert)
    stored = turn.repos.alerts.record_dispatched(
        entry.alert_id,
        to=entry.to,
        recipient={**records.recipients[entry.to], "sent_at": iso(turn.now)} if mine else None,
        messages=records.messages,
        failures=records.failures,
    )
    if not delivery.result.accepted:
        latest = int(stored.get("rounds_sent", 0)) == entry.round_no
        if latest and all_deliveries_failed(stored, entry.round_no):
            bring_step_forward(
                turn.repos, turn.settings, entry.alert_id, round_no=entry.round_no, now=turn.now
            )
        return "failed"
    return "sent"


def _round_drop(turn: Turn, reason: str) -> None:
    entry = turn.entry
    turn.repos.ledgers.record_reminder(entry.alert_id, entry.round_no, entry.to, _dropped(reason))
    if _queued_line_is_this(entry, turn.alert):
        # A first alert of a closed alert: GET shows `not_sent`; an escalation recipient whose
        # first message was a dropped reminder was never messaged and is not listed.
        line = {**turn.alert["recipients"][entry.to], "send_status": "not_sent", **_dropped(reason)}
        turn.repos.ledgers.drop_queued_line(
            entry.alert_id, to=entry.to, round_no=entry.round_no, line=line if entry.round_no == 0 else None
        )


# -- confirmation questions: recorded per step (`confirm_sends`, the message mapping) ----------


def _step_content(entry: QueuedSend, alert: AlertItem, settings: Settings) -> Content:
    max_rounds = int(alert["confirmation"]["max_rounds"])
    reminder = (entry.round_no, max_rounds) if entry.round_no > 0 else None
    return ConfirmContent(settings, StoredAlert.of(alert), entry.alert_id, reminder)


def _ledger_record(entry: QueuedSend, alert: AlertItem) -> SendRecord | None:
    # A follow-up ledger is one of the alert's maps of send records, named by the entry.
    ledger = cast(Mapping[str, Any], alert).get(entry.ledger or "", {})
    record = ledger.get(entry.key) if isinstance(ledger, dict) else None
    return cast(SendRecord, record) if isinstance(record, dict) else None


def _sent_before(entry: QueuedSend, alert: AlertItem) -> SendRecord | None:
    record = _ledger_record(entry, alert)
    return None if _unsent(record) or (record or {}).get("skipped") else record


def _step_remember(turn: Turn, delivery: Delivery) -> None:
    entry = turn.entry
    turn.repos.ledgers.record_sent(
        entry.alert_id, CONFIRM_SENDS, entry.round_no, delivery.to, delivery.record()
    )


def _step_finish(turn: Turn, delivery: Delivery) -> str:
    entry = turn.entry
    messages, failures = step_records(entry.alert_id, entry.round_no, entry.kind, [delivery])
    turn.repos.alerts.record_dispatched(
        entry.alert_id, to=entry.to, recipient=None, messages=messages, failures=failures
    )
    return _outcome(delivery)


def _step_drop(turn: Turn, reason: str) -> None:
    entry = turn.entry
    turn.repos.ledgers.record_sent(entry.alert_id, CONFIRM_SENDS, entry.round_no, entry.to, _dropped(reason))


# -- texts (acknowledgements, notices, critical messages): one follow-up ledger entry each -----


def _text_content(entry: QueuedSend, alert: AlertItem, settings: Settings) -> Content:
    return StoredContent.of(entry.content or {})


def _settle(turn: Turn, outcome: Mapping[str, Any]) -> None:
    """The entry's ledger record becomes `outcome`, keeping what the queued record held."""
    entry = turn.entry
    base = {"to": entry.to, "kind": entry.kind, **(turn.ledger_record() or {}), "sent_at": iso(turn.now)}
    settled = {k: v for k, v in base.items() if k not in ("error", "message_id", "dropped")} | dict(outcome)
    turn.repos.ledgers.settle_queued_ledger(entry.alert_id, str(entry.ledger), str(entry.key), settled)


def _ledger_remember(turn: Turn, delivery: Delivery) -> None:
    _settle(turn, {"skipped": True} if delivery.skipped else delivery.record())


def _ledger_finish(turn: Turn, delivery: Delivery) -> str:
    if delivery.skipped:
        # Outside the window by now, with no template for this kind (SPEC §10): counted once
        # (the entry `_settle` wrote stays: first write wins).
        entry = turn.entry
        skipped = {
            str(entry.key): {"to": entry.to, "kind": entry.kind, "sent_at": iso(turn.now), "skipped": True}
        }
        turn.repos.ledgers.record_ledger(entry.alert_id, str(entry.ledger), skipped, skipped=[entry.to])
        count("NoticeSkipped")
    return _outcome(delivery)


def _ledger_drop(turn: Turn, reason: str) -> None:
    _settle(turn, {**_dropped(reason), "dropped": reason})


def _outcome(delivery: Delivery) -> str:
    if delivery.skipped:
        return "skipped"
    return "sent" if delivery.result.accepted else "failed"


def _round_kind(stale: Check) -> QueuedKind:
    return QueuedKind(
        stale, _round_content, _round_earlier, _round_remember, _round_finish, _round_drop, False
    )


def _step_kind() -> QueuedKind:
    return QueuedKind(
        _confirmation_over, _step_content, _sent_before, _step_remember, _step_finish, _step_drop, True
    )


def _text_kind(stale: Check) -> QueuedKind:
    return QueuedKind(
        stale, _text_content, _sent_before, _ledger_remember, _ledger_finish, _ledger_drop, True
    )


# Every kind that can wait in the queue, and when it is stale (module docstring). Any other
# kind with a ledger is a text that never goes stale (acknowledgements, outcome notices, the
# provider-confirmed notice).
KINDS: dict[str, QueuedKind] = {
    "alert": _round_kind(_closed),
    "reminder": _round_kind(_answered_or_closed),
    "confirm_request": _step_kind(),
    "confirm_reminder": _step_kind(),
    "critical": _text_kind(_answered_or_closed),
    "confirm_missed": _text_kind(_unless_confirmed),
}
TEXT_KIND = _text_kind(_never_stale)
