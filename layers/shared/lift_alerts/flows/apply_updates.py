"""Acting on webhook updates: match each tap and reply to its alert, move statuses forward.

Every tap ends as exactly one of: recorded (matched by context or by button), duplicate
(the same tap id seen before), or unmatched with a reason, and each outcome is logged and
counted. A reply that is not a tap (text, voice note, media, location, contact card) ends
the same way: kept on its alert (matched by context or by recent alert), duplicate, or
unmatched. AWS faults are not swallowed: the caller parks what could not be processed.

What became of each update is in the report (`Report.results`: its id, alert, outcome and
how it was matched), which the caller logs in its one line per request; only what needs an
operator (unmatched, disagreeing, failed, not kept) gets a WARNING line of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any

from lift_alerts.domain.choices import is_confirm_label, parse_button_id, parse_button_label, parse_confirm_id
from lift_alerts.domain.inbound import Ignored, Reply, StatusUpdate, Tap, Update
from lift_alerts.domain.sightings import Sighting, sighting
from lift_alerts.flows.keep_replies import record_reply
from lift_alerts.flows.record_statuses import record_status
from lift_alerts.flows.record_taps import record_tap, record_yes
from lift_alerts.flows.windows import record_sightings
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.parking import decode
from lift_alerts.store.repositories import Repositories

# As many as the DynamoDB client has pooled connections (aws.py): no worker waits for one.
MAX_PARALLEL = 32
# A request's one INFO line lists what became of its first updates only (a batch can be large).
MAX_LOGGED_RESULTS = 20
# The fields of an update's log context that its summary in the request's line keeps.
_RESULT_KEYS = ("tap_id", "reply_id", "message_id", "alert_id", "matched_by")


@dataclass
class Report:
    """What happened to each update; `failed` holds those an AWS fault stopped (to be parked)."""

    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed: list[Update] = field(default_factory=list)
    # Taps, YES and replies now on an alert: their sender's window is the follow-up's to record.
    stored: list[Update] = field(default_factory=list)
    # One summary per update, in the batch's order within a group: e.g. {"tap_id": ...,
    # "alert_id": ..., "outcome": "tap_matched_context", "matched_by": "context"}.
    results: list[dict[str, Any]] = field(default_factory=list)

    def add(self, outcome: str, update: Update | None = None, log: dict[str, Any] | None = None) -> None:
        self.outcomes[outcome] += 1
        if update is not None and _stored_on_alert(outcome):
            self.stored.append(update)
        result = {key: log[key] for key in _RESULT_KEYS if key in log} if log else {}
        result["outcome"] = outcome
        self.results.append(result)

    def merge(self, other: Report) -> None:
        for key, value in other.outcomes.items():
            self.outcomes[key] += value
        self.failed += other.failed
        self.stored += other.stored
        self.results += other.results

    def log_fields(self) -> dict[str, Any]:
        """`results` for a request's log line: the first MAX_LOGGED_RESULTS, and how many more."""
        fields: dict[str, Any] = {"results": self.results[:MAX_LOGGED_RESULTS]}
        if len(self.results) > MAX_LOGGED_RESULTS:
            fields["results_omitted"] = len(self.results) - MAX_LOGGED_RESULTS
        return fields


def process_updates(
    updates: Sequence[Update], repos: Repositories, settings: Settings, now: datetime
) -> Report:
    """Process a batch: updates for one alert or message in order, different ones in parallel.

    Then who wrote (and when) is recorded for the 24-hour window (SPEC §5), for every update
    with a sender that was not stored on an alert: a stored tap, YES or reply is recorded by
    the follow-up function from the alert's stream record instead (windows.py), so a tap
    costs one DynamoDB write here.
    """
    groups: dict[str, list[Update]] = defaultdict(list)
    if len(updates) == 1:  # most requests: one tap or one status, nothing to order
        groups["only"] = list(updates)
    else:
        for update in updates:
            groups[_ordering_key(update)].append(update)
    tasks: list[Callable[[], Report]] = [
        partial(_process_group, group, repos, settings, now) for group in groups.values()
    ]
    if len(tasks) <= 1:
        report = tasks[0]() if tasks else Report()
    else:
        # The first task runs on this thread, the others on the container's pool: starting and
        # joining fresh threads for every POST cost more CPU than a single tap's own work.
        futures = [_workers().submit(task) for task in tasks[1:]]
        report = tasks[0]()
        for future in futures:
            report.merge(future.result())
    stored = {id(update) for update in report.stored}
    unstored = [_sighting(update) for update in updates if id(update) not in stored]
    sightings = [s for s in unstored if s is not None]
    if sightings:
        record_sightings(sightings, repos.contacts, settings, now)
    return report


@cache
def _workers() -> ThreadPoolExecutor:
    """One pool per container, kept across invocations (idle threads cost nothing while the
    container is frozen between invocations)."""
    return ThreadPoolExecutor(max_workers=MAX_PARALLEL, thread_name_prefix="updates")


def _sighting(update: Update) -> Sighting | None:
    if isinstance(update, Tap):
        return sighting(update.wa_id, update.user_id, update.responded_at)
    if isinstance(update, Reply):
        return sighting(update.wa_id, update.user_id, update.received_at)
    if isinstance(update, Ignored):
        return sighting(update.wa_id, update.user_id, update.at)
    return None


def _stored_on_alert(outcome: str) -> bool:
    """The tap, YES or reply is on its alert (now, or from its first delivery): the alert's
    stream record moves the sender's window (windows.record_stored_windows)."""
    return outcome in ("tap_duplicate", "reply_duplicate") or outcome.startswith(
        ("tap_matched_", "confirmation_matched_", "reply_matched_")
    )


def _ordering_key(update: Update) -> str:
    if isinstance(update, Tap):
        confirm_alert = parse_confirm_id(update.button_id)
        if confirm_alert:
            return f"alert:{confirm_alert}"
        if update.context_id and is_confirm_label(update.button_id):
            return f"context:{update.context_id}"
        ref = parse_button_id(update.button_id)
        if ref:
            return f"alert:{ref.alert_id}"
        if update.context_id and parse_button_label(update.button_id):
            # A label names no alert; taps on one message (a changed answer) keep their order.
            return f"context:{update.context_id}"
        return f"tap:{update.tap_id}"
    if isinstance(update, StatusUpdate):
        return f"msg:{update.message_id}"
    if isinstance(update, Reply):
        # One person's replies in the order they came: `messages_received` is oldest first.
        return f"reply:{update.wa_id or update.user_id or update.reply_id}"
    return "ignored"


def _process_group(group: list[Update], repos: Repositories, settings: Settings, now: datetime) -> Report:
    report = Report()
    for index, update in enumerate(group):
        log: dict[str, Any] = {}
        try:
            report.add(process_update(update, repos, settings, now, log), update, log)
        except Exception:
            # An AWS fault: this update and the rest of its group (order matters within it)
            # are handed back to be parked and processed later.
            logger.exception("update could not be processed now", extra={"update_kind": update.kind})
            count("UpdateDeferred", len(group) - index)
            report.failed += group[index:]
            for deferred in group[index:]:
                report.results.append({**_update_id(deferred), "outcome": "deferred"})
            break
    return report


def _update_id(update: Update) -> dict[str, str]:
    if isinstance(update, Tap):
        return {"tap_id": update.tap_id}
    if isinstance(update, Reply):
        return {"reply_id": update.reply_id}
    if isinstance(update, StatusUpdate):
        return {"message_id": update.message_id}
    return {}


def process_update(
    update: Update,
    repos: Repositories,
    settings: Settings,
    now: datetime,
    log: dict[str, Any] | None = None,
) -> str:
    """The update's outcome; `log` (when given) is filled with what it is about: its id, the
    alert it went to and how it was matched (the caller's summary of the update)."""
    log = {} if log is None else log
    if isinstance(update, Tap):
        if parse_confirm_id(update.button_id) or is_confirm_label(update.button_id):
            return record_yes(update, repos, log)
        return record_tap(update, repos, log)
    if isinstance(update, StatusUpdate):
        return record_status(update, repos, settings, now, log)
    if isinstance(update, Reply):
        return record_reply(update, repos, settings, log)
    return _ignored(update)


def _ignored(update: Ignored) -> str:
    logger.info("webhook item ignored", extra={"reason": update.reason})
    count("WebhookItemIgnored")
    return "ignored"


def process_parked(body: str, settings: Settings) -> Report:
    """The parked function's work for one SQS message: the updates a webhook parked, processed
    now as the webhook would have (everything here is idempotent)."""
    return process_updates(decode(body), Repositories.of(settings.alerts_table), settings, utc_now())
