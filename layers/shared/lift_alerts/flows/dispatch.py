"""The dispatcher (SPEC §11): messages that got no send slot before their deadline wait in the
send queue (`store.send_queue`), and the dispatcher sends them, highest priority first
(`domain.queue_order`), as soon as the budget allows; `queued_kinds` says how each kind goes.

Exactly-once, as far as a send can be: the dispatcher claims an item with a conditional write
(a lease) before sending; records the send on the alert right after Woosh answered (the
round's `reminders.<round>:<phone>`, the confirmation's `confirm_sends.<step>:<phone>`, or the
follow-up ledger entry); stores the mapping and the rest of the bookkeeping; and only then
deletes the item. A run that dies after the send record finds it on the retry and only
completes the bookkeeping; a run that dies between Woosh's answer and that record
(milliseconds) sends again once its lease expired: a duplicate alert is safer than a missing
one, as for reminders. One dispatcher drains at a time (a lease on `dispatcher#turn`), so the
order of the index is the order of sending.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from lift_alerts.domain.deliveries import NO_SLOT, Delivery
from lift_alerts.flows.queued_kinds import DROPPED, KINDS, TEXT_KIND, Turn
from lift_alerts.flows.sending import send_messages, woosh_client
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.send_queue import QueuedSend, wake_dispatcher
from lift_alerts.woosh.client import WooshClient

# Longer than one dispatch batch can take (a slot is at most a long window away, plus the send).
# Longer than one dispatch batch can take (a slot is at most a long window away, plus the send).
LEASE_SECONDS = 150
TURN_SECONDS = 60
BATCH = 10


@dataclass
class DispatchReport:
    still_waiting: int = 0
    skipped_turn: bool = False
    outcomes: list[str] = field(default_factory=list)  # one per entry taken, in order

    @property
    def sent(self) -> int:
        return self.outcomes.count("sent")

    @property
    def failed(self) -> int:
        return self.outcomes.count("failed")

    @property
    def dropped(self) -> int:
        return self.outcomes.count(DROPPED)


def dispatch_waiting(settings: Settings, *, time_left: Callable[[], float]) -> DispatchReport:
    """The dispatcher function's run: drain the queue; if time ran out with messages still
    waiting, wake the next run at once rather than at the schedule's tick."""
    report = run_dispatcher(
        Repositories.of(settings.alerts_table), woosh_client, settings, time_left=time_left
    )
    if report.still_waiting and not report.skipped_turn:
        wake_dispatcher()
    return report


def run_dispatcher(
    repos: Repositories,
    woosh: Callable[[], WooshClient],
    settings: Settings,
    *,
    time_left: Callable[[], float],
    owner: str | None = None,
) -> DispatchReport:
    """Drain the queue in priority order while time is left; one run at a time."""
    owner = owner or uuid.uuid4().hex
    queue = repos.queue
    report = DispatchReport()
    client_ = woosh()
    while True:
        now = int(time.time())
        if not queue.take_turn(owner, now=now, until=now + TURN_SECONDS):
            report.skipped_turn = True
            return report
        try:
            _drain(repos, client_, settings, owner, time_left, report)
        finally:
            # A run that fails hands its turn on at once; one that dies keeps it TURN_SECONDS.
            queue.end_turn(owner)
        # Something enqueued while this run was finishing (its wake-up found the turn taken),
        # ready or still held: take it now rather than at the next schedule tick.
        now = int(time.time())
        if time_left() <= 15 or not (queue.waiting(limit=1, now=now) or queue.held(now=now)):
            report.still_waiting = queue.size()
            return report


def _drain(
    repos: Repositories,
    woosh: WooshClient,
    settings: Settings,
    owner: str,
    time_left: Callable[[], float],
    report: DispatchReport,
) -> None:
    """Send batches of the highest-priority entries until the queue is empty or time is short."""
    queue = repos.queue
    while time_left() > 15:
        now = int(time.time())
        queue.take_turn(owner, now=now, until=now + TURN_SECONDS)
        entries = queue.waiting(limit=BATCH, now=now)
        if not entries:
            if queue.held(now=now):
                # Queued a moment ago (HOLD_SECONDS): ready within a second or two.
                time.sleep(0.5)
                continue
            return
        claimed = [c for e in entries if (c := queue.claim(e, now=now, lease_until=now + LEASE_SECONDS))]
        deadline = time.monotonic() + max(5.0, min(time_left() - 10, 100.0))
        with ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="dispatch") as pool:
            futures = [pool.submit(dispatch_one, e, repos, woosh, settings, deadline) for e in claimed]
        outcomes = [future.result() for future in futures]
        report.outcomes += outcomes


# Tries of the send record after Woosh answered: failing it means sending again later.
RECORD_TRIES = 3


def _record_sent_now(record: Callable[[], None]) -> None:
    """Write the send record, trying again on a failed write: until it is written, a run that
    takes over would send the message a second time (Woosh has no idempotency key)."""
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            record()
            return
        except ClientError:
            if attempt == RECORD_TRIES:
                raise
            logger.warning("send record failed; trying again", extra={"attempt": attempt})
            time.sleep(0.2 * attempt)


def dispatch_one(
    entry: QueuedSend,
    repos: Repositories,
    woosh: WooshClient,
    settings: Settings,
    deadline: float,
) -> str:
    """Send one claimed entry and record it like the path that queued it would have."""
    queue = repos.queue
    alert = repos.alerts.get_alert(entry.alert_id)
    if alert is None:
        queue.done(entry)
        return "alert_gone"
    kind = KINDS.get(entry.kind, TEXT_KIND if entry.ledger is not None else KINDS["alert"])
    now = utc_now()
    turn = Turn(entry, alert, repos, settings, now)
    earlier = kind.earlier(entry, alert)
    done: dict[str, Delivery] = {}
    if earlier is not None:
        # A run that died after the send recorded it: only the bookkeeping is left.
        done[entry.to] = Delivery.from_record(entry.to, earlier)
    else:
        reason = kind.stale(entry, alert)
        if reason is not None:
            kind.drop(turn, reason)
            queue.done(entry)
            count("QueuedMessageDropped")
            logger.info(
                "queued message dropped: its reason is gone",
                extra={"alert_id": entry.alert_id, "kind": entry.kind, "reason": reason},
            )
            return DROPPED
    delivery = send_messages(
        repos,
        woosh,
        settings,
        alert_id=entry.alert_id,
        content=kind.content(entry, alert, settings),
        recipients=[entry.to],
        round_no=None if kind.follow_up else entry.round_no,
        now=now,
        deadline=deadline,
        on_sent=lambda sent: _record_sent_now(lambda: kind.remember(turn, sent)),
        done=done,
        # A queued first recipient of a first alert is still that alarm's first contact.
        first_contacts=alert.get("recipient_order", [])[:1] if entry.round_no == 0 else (),
    )[0]
    if delivery.result.error_code == NO_SLOT:
        queue.release(entry)
        return "no_slot"
    outcome = kind.finish(turn, delivery)
    queue.done(entry)
    if outcome == "sent":
        count("QueuedMessageSent")
    return outcome
