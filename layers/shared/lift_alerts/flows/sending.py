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

from lift_alerts.domain.alert_facts import expiry
from lift_alerts.domain.alert_item import QUEUED
from lift_alerts.domain.channels import Channel, needs_template_fallback, window_open
from lift_alerts.domain.contents import Content
from lift_alerts.domain.deliveries import NO_SLOT, Delivery, SendResult
from lift_alerts.domain.send_slots import PacingLimits
from lift_alerts.domain.timestamps import epoch
from lift_alerts.platform.config import Settings, get_settings, on_reset
from lift_alerts.platform.secrets import get_secrets
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.send_budget import SendBudget
from lift_alerts.woosh.client import WooshClient

# Stores, durably and before the round is recorded, the recipients that got no slot.
Enqueue = Callable[[list[str]], None]


def choose_channels(
    repos: Repositories, content: Content, recipients: list[str], now: datetime
) -> dict[str, Channel | None]:
    """`content.inside` for people who wrote within the window, `content.outside` for the rest."""
    if content.inside == content.outside:
        return dict.fromkeys(recipients, content.inside)
    seen = repos.contacts.last_inbound(recipients)
    return {
        to: content.inside if window_open(seen.get(to), epoch(now)) else content.outside for to in recipients
    }


def send_messages(
    repos: Repositories,
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
    every other message gives way to first contacts (`domain.send_slots`). With a queue, the others give
    way for one grace at most and are queued when alarms keep arriving, so that the queue's
    order, not the order of arrival, decides who gets the slots left.
    """
    done = done or {}
    pending = [to for to in recipients if to not in done]
    if channel is not None:
        channels: dict[str, Channel | None] = dict.fromkeys(pending, channel)
    else:
        channels = choose_channels(repos, content, pending, now) if pending else {}
    chosen: dict[str, Channel] = {to: c for to, c in channels.items() if c is not None}
    sendable = [to for to in pending if to in chosen]
    results, replaced = _send_firsts_then_the_rest(
        woosh, content, sendable, chosen, first_contacts, deadline, patient=enqueue is None
    )
    if enqueue is not None:
        _queue_those_without_a_slot(results, enqueue)
    mappings = _Mappings(repos, settings, alert_id, content, round_no, now, fallback_for)
    made = {to: Delivery(to, result, chosen[to], replaced=replaced.get(to)) for to, result in results.items()}

    def store(to: str) -> Delivery:
        delivery = done.get(to)
        if delivery is None:
            delivery = made.get(to)
            if delivery is None:  # outside the window, and no template for this kind
                return Delivery(
                    to, SendResult(to, None, "outside_window", "no template for this message"), None
                )
            if on_sent is not None:
                on_sent(delivery)
        return mappings.store(delivery)

    if len(recipients) <= 1:
        return [store(to) for to in recipients]
    with ThreadPoolExecutor(max_workers=min(8, len(recipients)), thread_name_prefix="store") as pool:
        # Every store runs even if another fails (pool.map would cancel those not started):
        # a send Woosh accepted must be remembered, or a retry sends it again.
        futures = [pool.submit(store, to) for to in recipients]
    return [future.result() for future in futures]


def _send_firsts_then_the_rest(
    woosh: WooshClient,
    content: Content,
    sendable: list[str],
    chosen: dict[str, Channel],
    first_contacts: Collection[str],
    deadline: float,
    *,
    patient: bool,
) -> tuple[dict[str, SendResult], dict[str, SendResult]]:
    """Send to alarms' first contacts first, then to everyone else (`send_messages`): Woosh's
    answer per recipient, and the 131047 refusals the template replaced at once."""
    results: dict[str, SendResult] = {}
    replaced: dict[str, SendResult] = {}
    firsts = [to for to in sendable if to in first_contacts]
    for group, first in ((firsts, True), ([to for to in sendable if to not in first_contacts], False)):
        if not group:
            continue
        bodies = [content.body(to, chosen[to]) or {} for to in group]
        sent = woosh.send_all(bodies, deadline=deadline, first_contact=first, patient=patient)
        group_results = dict(zip(group, sent, strict=True))
        replaced |= _resend_refused_as_template(woosh, content, group_results, chosen, deadline, first)
        results |= group_results
    return results, replaced


def _queue_those_without_a_slot(results: dict[str, SendResult], enqueue: Enqueue) -> None:
    """Hand the messages that got no send slot to the send queue; they are `queued` from now."""
    no_slot = [to for to, result in results.items() if result.error_code == NO_SLOT]
    if not no_slot:
        return
    enqueue(no_slot)
    for to in no_slot:
        results[to] = SendResult(to, None, QUEUED, "waiting for a send slot within Woosh's rate limits")


@dataclass(frozen=True)
class _Mappings:
    """Stores the message -> alert mapping of each delivery of one `send_messages` call."""

    repos: Repositories
    settings: Settings
    alert_id: str
    content: Content
    round_no: int | None
    now: datetime
    fallback_for: str | None

    def store(self, delivery: Delivery) -> Delivery:
        """The delivery, with the failure of a `failed` status that came before its mapping."""
        message_id, to = delivery.result.message_id, delivery.to
        if message_id is None or delivery.early_failure is not None:
            return delivery
        # Stored again for a delivery an earlier run recorded: it may have died before this.
        message = self.repos.messages.store_message(
            message_id,
            alert_id=self.alert_id,
            recipient=to,
            round_no=self.round_no,
            kind=self.content.kind,
            expires_at=expiry(self.settings, self.now),
            channel=delivery.channel or "interactive",
            fallback_for=self.fallback_for,
            sent_at=epoch(self.now),
        )
        if message.get("delivery_status") != "failed":
            return delivery
        early = message.get("delivery_error") or {"code": "failed", "title": "delivery failed"}
        fallback = needs_template_fallback(
            self.content.body(to, "template") is not None, delivery.channel, early.get("code")
        )
        return Delivery(to, delivery.result, delivery.channel, early, fallback, delivery.replaced)


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


def remaining_deadline(settings: Settings, remaining_ms: int | None) -> float:
    """Monotonic deadline for Woosh: the configured budget, or less if the Lambda has less left."""
    budget = settings.send_deadline_seconds
    if remaining_ms is not None:
        budget = min(budget, remaining_ms / 1000 - 3.0)
    return time.monotonic() + max(budget, 1.0)


def pacing_limits() -> PacingLimits:
    """Woosh's limits as configured (WOOSH_RATE_*). A function that sends reads them at cold
    start: a setting out of range stops it there, naming the variable, instead of failing every
    send with an error no retry can cure. (Read again per client: a few environment lookups.)"""
    return PacingLimits.from_env()


def sending_function_configuration() -> Settings:
    """A sending function's configuration, read at its cold start: the settings and Woosh's
    limits. A bad value stops the function there, naming it, instead of failing every send."""
    pacing_limits()
    return get_settings()


def woosh_client() -> WooshClient:
    """The Bridge client for this container's settings and secret, kept across invocations so
    its connections to Woosh are reused (a rotated key or another Bridge gets a new client)."""
    settings = get_settings()
    return _woosh_client(
        settings.woosh_base_url, get_secrets().woosh_api_key, settings.alerts_table, pacing_limits()
    )


@functools.lru_cache(maxsize=4)
def _woosh_client(base_url: str, api_key: str, alerts_table: str, limits: PacingLimits) -> WooshClient:
    # Every instance of every function paces itself against the one budget item (SPEC §11).
    return WooshClient(base_url, api_key, budget=SendBudget(alerts_table, limits))


# Tests change the environment: `platform.config.reset_caches` forgets the kept clients too.
on_reset(_woosh_client.cache_clear)
