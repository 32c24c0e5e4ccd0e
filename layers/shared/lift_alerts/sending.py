"""One step that sends a set of messages for an alert and records them (SPEC §4, §5, §9).

Used by the first alert (round 0), every reminder round and the template fallbacks: choose
each person's channel from their 24-hour window, send in parallel within a deadline, resend
a 131047 refusal as the template at once, and store every message id -> alert mapping
before anything else can fail, so a tap or status that races the send is never lost.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from lift_alerts.channels import Channel, needs_template_fallback, window_open
from lift_alerts.clock import epoch
from lift_alerts.config import Settings
from lift_alerts.outbound import AlertFacts, alert_text, interactive_body, template_body
from lift_alerts.pacing import PacingLimits, SendBudget
from lift_alerts.repository import AlertRepository
from lift_alerts.stored import (
    QUEUED,
    Failure,
    MessageRef,
    RecipientLine,
    SendRecord,
    expiry,
    failure_record,
    sends_in_round,
)
from lift_alerts.woosh import NO_SLOT, SendResult, WooshClient

# Stores, durably and before the round is recorded, the recipients that got no slot.
Enqueue = Callable[[list[str]], None]


@dataclass(frozen=True)
class Delivery:
    """What sending one recipient's message of a round came to."""

    to: str
    result: SendResult
    channel: Channel | None  # None: skipped, outside the window with no template for this kind
    # A `failed` status that reached us before the mapping was stored.
    early_failure: dict[str, Any] | None = None
    # The early failure is a 131047 the follow-up function resends as the template.
    early_fallback: bool = False
    # The interactive attempt Woosh refused with 131047 at send time, replaced by `result`.
    replaced: SendResult | None = None

    @property
    def skipped(self) -> bool:
        return self.channel is None

    @property
    def queued(self) -> bool:
        return self.result.error_code == QUEUED

    def record(self) -> SendRecord:
        """What a round remembers per recipient right after the send (a retry skips them)."""
        record: SendRecord = {
            "message_id": self.result.message_id,
            "error": self.result.error() or self.early_failure,
            "channel": self.channel,
        }
        if self.replaced is not None:
            record["replaced_error"] = self.replaced.error()
        if self.early_fallback:
            record["early_fallback"] = True
        return record

    @classmethod
    def from_record(cls, to: str, record: SendRecord) -> Delivery:
        error = record.get("error") or {}
        message_id = record.get("message_id")
        replaced_error = record.get("replaced_error")
        return cls(
            to=to,
            result=SendResult(to, message_id, None if message_id else error.get("code"), error.get("title")),
            channel=record.get("channel", "interactive"),
            early_failure=error if message_id and error else None,
            early_fallback=bool(record.get("early_fallback")),
            replaced=SendResult(to, None, replaced_error.get("code"), replaced_error.get("title"))
            if replaced_error
            else None,
        )


def deliveries_recorded(records: dict[str, SendRecord], round_no: int) -> dict[str, Delivery]:
    """Sends of a claimed round that an earlier run recorded (written right after each send)
    before it died: the run taking over, or the retry of a request, does not send them again."""
    return {to: Delivery.from_record(to, record) for to, record in sends_in_round(records, round_no).items()}


@dataclass(frozen=True)
class RoundRecords:
    """A round's results as they are stored on the alert in one write."""

    recipients: dict[str, RecipientLine]
    messages: dict[str, MessageRef]
    failures: dict[str, Failure]


class Content(Protocol):
    """What one kind of message says, in the form each channel needs (SPEC §5, §10).

    `inside` is the channel for a person whose 24-hour window is open; `outside` the channel
    for everyone else (a template), or None when no template is configured for this kind:
    then such a person is skipped, and the caller counts the skip.
    """

    @property
    def kind(self) -> str: ...
    @property
    def inside(self) -> Channel: ...
    @property
    def outside(self) -> Channel | None: ...
    def body(self, to: str, channel: Channel) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class RoundContent:
    """A message sent in an alert's numbered rounds, then as its reminders (`reminder` is
    (n, N) for REMINDER n/N): reply buttons inside the 24-hour window."""

    settings: Settings
    facts: AlertFacts
    alert_id: str
    reminder: tuple[int, int] | None = None
    # The message kind of the first send and of its reminders.
    kinds: ClassVar[tuple[str, str]]

    @property
    def kind(self) -> str:
        return self.kinds[1] if self.reminder else self.kinds[0]

    @property
    def inside(self) -> Channel:
        return "interactive"


@dataclass(frozen=True)
class AlertContent(RoundContent):
    """The alert itself (round 0) or a reminder: the three buttons, or the alert template."""

    kinds: ClassVar[tuple[str, str]] = ("alert", "reminder")

    @property
    def outside(self) -> Channel:
        # Without a template, interactive is all there is: it reaches only people who wrote
        # in the last 24 hours (the README says so plainly).
        return "template" if self.settings.template_name else "interactive"

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        if channel == "template":
            if not self.settings.template_name:
                return None
            return template_body(
                to,
                self.facts,
                self.alert_id,
                name=self.settings.template_name,
                language=self.settings.template_language,
                params=self.settings.template_params,
                reminder=self.reminder,
            )
        return interactive_body(to, alert_text(self.facts, reminder=self.reminder), self.alert_id)


def choose_channels(
    repo: AlertRepository, content: Content, recipients: list[str], now: datetime
) -> dict[str, Channel | None]:
    """`content.inside` for people who wrote within the window, `content.outside` for the rest."""
    if content.inside == content.outside:
        return dict.fromkeys(recipients, content.inside)
    seen = repo.last_inbound(recipients)
    return {
        to: content.inside if window_open(seen.get(to), epoch(now)) else content.outside for to in recipients
    }


def send_messages(
    repo: AlertRepository,
    woosh: WooshClient,
    settings: Settings,
    *,
    alert_id: str,
    content: Content,
    recipients: list[str],
    round_no: int | None,
    now: datetime,
    deadline: float,
    on_sent: Callable[[Delivery], None] | None = None,
    done: dict[str, Delivery] | None = None,
    channel: Channel | None = None,
    fallback_for: str | None = None,
    enqueue: Enqueue | None = None,
    first_contacts: Collection[str] = (),
) -> list[Delivery]:
    """Send `content` to every recipient not in `done` and store each message -> alert mapping.

    `on_sent` runs for each new delivery before its mapping is stored: a run that dies after
    it knows this recipient was sent to. `channel` forces one channel (a template fallback,
    which then names the message it replaces in `fallback_for`). A person outside the window
    with no template for this kind is skipped (`Delivery.skipped`), never sent to. A message
    that got no send slot before `deadline` is handed to `enqueue` and is `Delivery.queued`;
    without `enqueue` it is a failure with code `no_send_slot`.

    `first_contacts` are the recipients whose message is their alarm's first contact (SPEC §11:
    one recipient of every waiting alarm before the second of any): they are sent first and
    every other message gives way to first contacts (`pacing`). With a queue, the others give
    way for one grace at most and are queued when alarms keep arriving, so that the queue's
    order, not the order of arrival, decides who gets the slots left.
    """
    done = done or {}
    pending = [to for to in recipients if to not in done]
    if channel is not None:
        channels: dict[str, Channel | None] = dict.fromkeys(pending, channel)
    else:
        channels = choose_channels(repo, content, pending, now) if pending else {}
    skipped = {to for to in pending if channels[to] is None}
    sendable = [to for to in pending if to not in skipped]
    chosen: dict[str, Channel] = {to: c for to, c in channels.items() if c is not None}
    results: dict[str, SendResult] = {}
    replaced: dict[str, SendResult] = {}
    firsts = [to for to in sendable if to in first_contacts]
    for group, first in ((firsts, True), ([to for to in sendable if to not in first_contacts], False)):
        if not group:
            continue
        bodies = [content.body(to, chosen[to]) or {} for to in group]
        sent = woosh.send_all(bodies, deadline=deadline, first_contact=first, patient=enqueue is None)
        group_results = dict(zip(group, sent, strict=True))
        replaced |= _resend_refused_as_template(woosh, content, group_results, chosen, deadline, first)
        results |= group_results
    no_slot = [to for to, result in results.items() if result.error_code == NO_SLOT]
    if no_slot and enqueue is not None:
        enqueue(no_slot)
        for to in no_slot:
            results[to] = SendResult(to, None, QUEUED, "waiting for a send slot within Woosh's rate limits")
    expires_at = expiry(settings, now)

    def store(to: str) -> Delivery:
        delivery = done.get(to)
        if delivery is None and to in skipped:
            return Delivery(to, SendResult(to, None, "outside_window", "no template for this message"), None)
        if delivery is None:
            delivery = Delivery(to, results[to], chosen[to], replaced=replaced.get(to))
            if on_sent is not None:
                on_sent(delivery)
        message_id = delivery.result.message_id
        if message_id is None or delivery.early_failure is not None:
            return delivery
        # Stored again for a delivery an earlier run recorded: it may have died before this.
        message = repo.store_message(
            message_id,
            alert_id=alert_id,
            recipient=to,
            round_no=round_no,
            kind=content.kind,
            expires_at=expires_at,
            channel=delivery.channel or "interactive",
            fallback_for=fallback_for,
            sent_at=epoch(now),
        )
        if message.get("delivery_status") != "failed":
            return delivery
        early = message.get("delivery_error") or {"code": "failed", "title": "delivery failed"}
        fallback = needs_template_fallback(
            content.body(to, "template") is not None, delivery.channel, early.get("code")
        )
        return Delivery(to, delivery.result, delivery.channel, early, fallback, delivery.replaced)

    if len(recipients) <= 1:
        return [store(to) for to in recipients]
    with ThreadPoolExecutor(max_workers=min(8, len(recipients)), thread_name_prefix="store") as pool:
        # Every store runs even if another fails (pool.map would cancel those not started):
        # a send Woosh accepted must be remembered, or a retry sends it again.
        futures = [pool.submit(store, to) for to in recipients]
    return [future.result() for future in futures]


def _resend_refused_as_template(
    woosh: WooshClient,
    content: Content,
    results: dict[str, SendResult],
    channels: dict[str, Channel],
    deadline: float,
    first_contact: bool,
) -> dict[str, SendResult]:
    """Woosh refused a non-template message with 131047 at once: send the template now (SPEC §5).

    Updates `results` and `channels` in place; returns the refused attempts by recipient.
    """
    templates = {
        to: content.body(to, "template")
        for to, result in results.items()
        if needs_template_fallback(True, channels[to], result.error_code)
    }
    refused = [to for to, body in templates.items() if body is not None]
    if not refused:
        return {}
    replaced = {to: results[to] for to in refused}
    sent = woosh.send_all(
        [templates[to] or {} for to in refused], deadline=deadline, first_contact=first_contact
    )
    for to, result in zip(refused, sent, strict=True):
        results[to] = result
        channels[to] = "template"
    return replaced


def round_records(alert_id: str, round_no: int, deliveries: list[Delivery]) -> RoundRecords:
    """The recipients, message mappings and failures one round adds to its alert."""
    recipients: dict[str, RecipientLine] = {}
    messages: dict[str, MessageRef] = {}
    failures: dict[str, Failure] = {}
    for delivery in deliveries:
        to, result = delivery.to, delivery.result
        error = None if delivery.queued else result.error()
        recipients[to] = {
            "to": to,
            "message_id": result.message_id,
            "send_status": "accepted" if result.accepted else QUEUED if delivery.queued else "failed",
            "error": error,
            "round": round_no,
            "channel": delivery.channel or "interactive",
            "fallback": delivery.replaced is not None,
        }
        if result.message_id is not None:
            messages[result.message_id] = {
                "to": to,
                "round": round_no,
                "channel": delivery.channel or "interactive",
            }
        if delivery.replaced is not None:
            # Recorded for the history, never published: the template went out instead.
            key, record = failure_record(
                alert_id, round_no, to, None, delivery.replaced.error() or {}, replaced_by_fallback=True
            )
            failures[key] = record
        failure = error or delivery.early_failure
        if failure is not None:
            key, record = failure_record(
                alert_id,
                round_no,
                to,
                result.message_id,
                failure,
                replaced_by_fallback=delivery.early_fallback,
                fallback=delivery.replaced is not None,
            )
            failures[key] = record
    return RoundRecords(recipients, messages, failures)


def remaining_deadline(settings: Settings, remaining_ms: int | None) -> float:
    """Monotonic deadline for Woosh: the configured budget, or less if the Lambda has less left."""
    budget = settings.send_deadline_seconds
    if remaining_ms is not None:
        budget = min(budget, remaining_ms / 1000 - 3.0)
    return time.monotonic() + max(budget, 1.0)


def woosh_client() -> WooshClient:
    """The Bridge client for this container's settings and secret, kept across invocations so
    its connections to Woosh are reused (a rotated key or another Bridge gets a new client)."""
    from lift_alerts.config import get_secrets, get_settings

    settings = get_settings()
    return _woosh_client(
        settings.woosh_base_url, get_secrets().woosh_api_key, settings.alerts_table, PacingLimits.from_env()
    )


@functools.lru_cache(maxsize=4)
def _woosh_client(base_url: str, api_key: str, alerts_table: str, limits: PacingLimits) -> WooshClient:
    # Every instance of every function paces itself against the one budget item (SPEC §11).
    return WooshClient(base_url, api_key, budget=SendBudget(alerts_table, limits))


def reset_woosh_clients() -> None:
    """Forget the kept Bridge clients (tests change the environment)."""
    _woosh_client.cache_clear()
