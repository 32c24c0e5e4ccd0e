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

from lift_alerts.channels import Sighting, needs_template_fallback
from lift_alerts.choices import (
    Choice,
    is_confirm_label,
    parse_button_id,
    parse_button_label,
    parse_confirm_id,
)
from lift_alerts.clock import epoch
from lift_alerts.config import Settings
from lift_alerts.inbound import Ignored, Reply, StatusUpdate, Tap, Update
from lift_alerts.observability import count, logger
from lift_alerts.repository import AlertRepository, ReplyResult, TapResult
from lift_alerts.stored import (
    MessageItem,
    all_deliveries_failed,
    expiry,
    failure_record,
    find_ledger_entry,
    follow_up_template,
    is_follow_up_message,
)
from lift_alerts.table import ConditionFailed, Written
from lift_alerts.windows import record_sightings, sighting

# As many as the DynamoDB client has pooled connections (aws.py): no worker waits for one.
MAX_PARALLEL = 32
# A request's one INFO line lists what became of its first updates only (a batch can be large).
MAX_LOGGED_RESULTS = 20
# The fields of an update's log context that its summary in the request's line keeps.
_RESULT_KEYS = ("tap_id", "reply_id", "message_id", "alert_id", "matched_by")
# WhatsApp's timestamps and our clock may disagree a little: an alert sent this long after
# the person wrote may still be the one they answered.
REPLY_CLOCK_SKEW_SECONDS = 60


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
    updates: Sequence[Update], repo: AlertRepository, settings: Settings, now: datetime
) -> Report:
    """Process a batch: updates for one alert or message in order, different ones in parallel.

    Then who wrote (and when) is recorded for the 24-hour window (SPEC §5), for every update
    with a sender that was not stored on an alert: a stored tap, YES or reply is recorded by
    the follow-up function from the alert's stream record instead (windows.py), so a tap
    costs one DynamoDB write here.
    """
    groups: dict[str, list[Update]] = defaultdict(list)
    for update in updates:
        groups[_ordering_key(update)].append(update)
    tasks: list[Callable[[], Report]] = [
        partial(_process_group, group, repo, settings, now) for group in groups.values()
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
    record_sightings([s for s in unstored if s is not None], repo, settings, now)
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


def _process_group(group: list[Update], repo: AlertRepository, settings: Settings, now: datetime) -> Report:
    report = Report()
    for index, update in enumerate(group):
        log: dict[str, Any] = {}
        try:
            report.add(process_update(update, repo, settings, now, log), update, log)
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
    repo: AlertRepository,
    settings: Settings,
    now: datetime,
    log: dict[str, Any] | None = None,
) -> str:
    """The update's outcome; `log` (when given) is filled with what it is about: its id, the
    alert it went to and how it was matched (the caller's summary of the update)."""
    log = {} if log is None else log
    if isinstance(update, Tap):
        if parse_confirm_id(update.button_id) or is_confirm_label(update.button_id):
            return record_yes(update, repo, log)
        return record_tap(update, repo, log)
    if isinstance(update, StatusUpdate):
        return record_status(update, repo, settings, now, log)
    if isinstance(update, Reply):
        return record_reply(update, repo, settings, log)
    return _ignored(update)


def _ignored(update: Ignored) -> str:
    logger.info("webhook item ignored", extra={"reason": update.reason})
    count("WebhookItemIgnored")
    return "ignored"


def _response(tap: Tap, choice: str, matched_by: str, original_message_id: str | None) -> dict[str, Any]:
    responder: dict[str, Any] = {"wa_id": tap.wa_id, "name": tap.name}
    if tap.user_id:
        responder["user_id"] = tap.user_id
    return {
        "event_id": tap.tap_id,
        "choice": choice,
        "button_title": tap.button_title,
        "responder": responder,
        "responded_at": tap.responded_at,
        "matched_by": matched_by,
        "original_message_id": original_message_id,
    }


def record_tap(tap: Tap, repo: AlertRepository, log: dict[str, Any] | None = None) -> str:
    """Match by context.id first; fall back to the alert named in the button id (SPEC §6).

    A payload that is just a label (a template with static payloads) matches by context.id only.
    `log` (when given) is filled with the tap's log context (see process_update).
    """
    ref = parse_button_id(tap.button_id)
    log = {} if log is None else log
    log.update(tap_id=tap.tap_id, context_id=tap.context_id)
    if ref is None:
        label_choice = parse_button_label(tap.button_id)
        if label_choice is None:
            return _unmatched("unknown_button", log)
        return _record_label_tap(tap, label_choice, repo, log)
    log["alert_id"] = ref.alert_id
    choice = ref.choice.value

    if tap.context_id:
        by_context = _response(tap, choice, "context", tap.context_id)
        # Common case, one write: the button's alert really sent this message.
        result = repo.record_tap(ref.alert_id, by_context, require_message=tap.context_id)
        if isinstance(result, Written):
            return _recorded("context", log)
        if result.reason == "duplicate":
            return _duplicate(log)
        message = repo.find_message(tap.context_id)
        owner = message.get("alert_id") if message else None
        if owner:
            if owner != ref.alert_id:
                # context.id wins: the button id names another alert than the message did.
                logger.warning("tap context and button disagree", extra={**log, "context_alert_id": owner})
                count("TapContextButtonDisagree")
                log["alert_id"] = str(owner)
            result = repo.record_tap(str(owner), by_context)
            return _after_fallback(result, "context", log)
    # No usable context: the alert and choice encoded in the button id.
    result = repo.record_tap(ref.alert_id, _response(tap, choice, "button", tap.context_id))
    return _after_fallback(result, "button", log)


def record_yes(tap: Tap, repo: AlertRepository, log: dict[str, Any] | None = None) -> str:
    """A YES on an entrapment confirmation (SPEC §10): never a classification tap.

    Matched like a tap: by context.id when that message is the alert's, else by the alert the
    button id names; a static payload that is just "YES" matches by context.id only.
    """
    named = parse_confirm_id(tap.button_id)
    log = {} if log is None else log
    log.update(tap_id=tap.tap_id, context_id=tap.context_id, alert_id=named)
    responder: dict[str, Any] = {"wa_id": tap.wa_id, "name": tap.name}
    if tap.user_id:
        # Kept for the window (windows.py): a YES maps the user id to the phone like a tap.
        responder["user_id"] = tap.user_id
    yes = {
        "event_id": tap.tap_id,
        "responder": responder,
        "responded_at": tap.responded_at,
        "button_title": tap.button_title,
        "original_message_id": tap.context_id,
    }
    if tap.context_id:
        if named is not None:
            result = repo.record_confirmation(
                named,
                {**yes, "matched_by": "context"},
                closed_at=tap.responded_at,
                require_message=tap.context_id,
            )
            if isinstance(result, Written) or result.reason in ("duplicate", "not_requested"):
                return _yes_outcome(result, "context", log)
        message = repo.find_message(tap.context_id)
        owner = str(message["alert_id"]) if message and message.get("alert_id") else None
        if owner:
            log["alert_id"] = owner
            result = repo.record_confirmation(
                owner, {**yes, "matched_by": "context"}, closed_at=tap.responded_at
            )
            return _yes_outcome(result, "context", log)
    if named is None:
        return _unmatched("no_alert_reference", log)
    result = repo.record_confirmation(named, {**yes, "matched_by": "button"}, closed_at=tap.responded_at)
    return _yes_outcome(result, "button", log)


def _yes_outcome(result: TapResult, matched_by: str, log: dict[str, Any]) -> str:
    if isinstance(result, Written):
        return _matched("confirmation", "ConfirmationRecorded", matched_by, log)
    if result.reason == "duplicate":
        return _duplicate(log)
    if result.reason == "not_requested":
        return _unmatched("confirmation_not_requested", log)
    return _unmatched("unknown_alert", log)


def _record_label_tap(tap: Tap, choice: Choice, repo: AlertRepository, log: dict[str, Any]) -> str:
    """A static-payload quick reply: the alert comes from `context.id` only (SPEC §6).

    Never guessed from the sender's other open alerts: with two emergencies open for one
    person, any guess may put an entrapment on the wrong lift.
    """
    message = repo.find_message(tap.context_id) if tap.context_id else None
    owner = message.get("alert_id") if message else None
    if not owner:
        return _unmatched("no_alert_reference", log)
    log["alert_id"] = str(owner)
    result = repo.record_tap(str(owner), _response(tap, choice.value, "context", tap.context_id))
    return _after_fallback(result, "context", log)


def _after_fallback(result: TapResult, matched_by: str, log: dict[str, Any]) -> str:
    if isinstance(result, Written):
        return _recorded(matched_by, log)
    if result.reason == "duplicate":
        return _duplicate(log)
    return _unmatched("unknown_alert", log)


def _recorded(matched_by: str, log: dict[str, Any]) -> str:
    return _matched("tap", "TapMatched", matched_by, log)


def _matched(what: str, metric: str, matched_by: str, log: dict[str, Any]) -> str:
    """A tap, YES or reply recorded on its alert: counted, `<what>_matched_<how>`; `matched_by`
    goes into `log` for the request's line (no line of its own: nothing for an operator to do)."""
    log["matched_by"] = matched_by
    count(metric)
    return f"{what}_matched_{matched_by}"


def _duplicate(log: dict[str, Any]) -> str:
    # Counted and in the request's line (the sender retried): no line of its own.
    count("TapDuplicate")
    return "tap_duplicate"


def _unmatched(reason: str, log: dict[str, Any]) -> str:
    # Never silent: an operator alarm watches this metric (a tap nobody could match).
    logger.warning("tap matched no alert", extra={**log, "reason": reason})
    count("TapUnmatched")
    return f"tap_unmatched_{reason}"


# -- replies that are not taps (SPEC §10) ------------------------------------------------------


def _reply_record(reply: Reply, phone: str | None, matched_by: str) -> dict[str, Any]:
    sender: dict[str, Any] = {"wa_id": phone, "name": reply.name}
    if reply.user_id:
        sender["user_id"] = reply.user_id
    return {
        "event_id": reply.reply_id,
        "type": reply.type,
        "text": reply.text,
        "media_id": reply.media_id,
        "mime_type": reply.mime_type,
        "filename": reply.filename,
        "location": reply.location.model_dump() if reply.location else None,
        "from": sender,
        "received_at": reply.received_at,
        "matched_by": matched_by,
    }


def record_reply(
    reply: Reply, repo: AlertRepository, settings: Settings, log: dict[str, Any] | None = None
) -> str:
    """Keep a reply with the alert it belongs to; it never counts as a tap (SPEC §10).

    The alert is the one owning the quoted message (`context.id`: any message we sent for it,
    reminders and notices too); else the latest alert (or reminder) sent to the sender in the
    REPLY_WINDOW_SECONDS before they wrote that is not closed; else the reply is unmatched.
    """
    log = {} if log is None else log
    log.update(reply_id=reply.reply_id, reply_type=reply.type, context_id=reply.context_id)
    phone = reply.wa_id or (repo.phone_for_user(reply.user_id) if reply.user_id else None)
    if reply.context_id:
        message = repo.find_message(reply.context_id)
        owner = message.get("alert_id") if message else None
        if owner:
            log["alert_id"] = str(owner)
            result = repo.record_reply(str(owner), _reply_record(reply, phone, "context"), require_open=False)
            if not (isinstance(result, ConditionFailed) and result.reason == "unknown_alert"):
                return _reply_outcome(result, "context", log)
    if not phone:
        return _reply_unmatched("no_sender", log)
    written = epoch(datetime.fromisoformat(reply.received_at.replace("Z", "+00:00")))
    candidates = repo.recently_paged_alert_ids(
        phone, since=written - settings.reply_window_seconds, until=written + REPLY_CLOCK_SKEW_SECONDS
    )
    record = _reply_record(reply, phone, "recent")
    for alert_id in candidates:
        # Latest first; a closed one is passed over (the write itself checks, so an alert
        # closed a moment ago is never given a reply meant for the next one).
        result = repo.record_reply(alert_id, record, require_open=True)
        if isinstance(result, ConditionFailed) and result.reason in ("closed", "unknown_alert"):
            continue
        log["alert_id"] = alert_id
        return _reply_outcome(result, "recent", log)
    return _reply_unmatched("no_recent_alert", log)


def _reply_outcome(result: ReplyResult, matched_by: str, log: dict[str, Any]) -> str:
    if isinstance(result, Written):
        return _matched("reply", "ReplyMatched", matched_by, log)
    if result.reason == "duplicate":
        count("ReplyDuplicate")
        return "reply_duplicate"
    if result.reason == "full":
        # The alert already holds as many replies as it may (taps must always fit).
        logger.warning("reply not kept: the alert holds its maximum of replies", extra=log)
        count("ReplyNotKept")
        return "reply_not_kept_full"
    return _reply_unmatched(result.reason, log)


def _reply_unmatched(reason: str, log: dict[str, Any]) -> str:
    logger.warning("reply matched no alert", extra={**log, "reason": reason})
    count("ReplyUnmatched")
    return f"reply_unmatched_{reason}"


# -- delivery statuses ----------------------------------------------------------------------------


def record_status(
    update: StatusUpdate,
    repo: AlertRepository,
    settings: Settings,
    now: datetime,
    log: dict[str, Any] | None = None,
) -> str:
    log = {} if log is None else log
    log["message_id"] = update.message_id
    result = repo.record_status(
        update.message_id, update.status, at=update.at, error=update.error, expires_at=expiry(settings, now)
    )
    if isinstance(result, Written):
        message: MessageItem | None = result.item
        outcome = "status_recorded"
    else:
        message = result.before
        outcome = "status_stale"
    if message and message.get("alert_id"):
        log["alert_id"] = str(message["alert_id"])
    # A stale status: nothing more, unless it is a failed status seen again (make sure its
    # failure reached the alert: the first delivery may have died between the two writes).
    if outcome == "status_stale" and not (
        update.status == "failed" and message and message.get("delivery_status") == "failed"
    ):
        return outcome
    if update.status == "failed" and message and message.get("alert_id"):
        _record_delivery_failure(message, update, repo, settings, now)
    elif update.status == "failed":
        # Before the mapping: the send records the failure when it stores the mapping.
        logger.info("failed status before its mapping", extra={"message_id": update.message_id})
    return outcome


def _record_delivery_failure(
    message: MessageItem, update: StatusUpdate, repo: AlertRepository, settings: Settings, now: datetime
) -> None:
    alert_id = str(message["alert_id"])
    if is_follow_up_message(message):
        # An acknowledgement, notice or critical message: never a failed delivery of the
        # alert's rounds, never "Alert Delivery Failed"; recorded on its ledger entry.
        _record_follow_up_failure(alert_id, message, update, repo, settings)
        return
    round_no = int(message.get("round_no", 0))
    error = update.error or {}
    # 131047 on a message that was not a template: the follow-up function resends it as the
    # template; its failure is published only if that fails too (SPEC §5).
    # The follow-up resends the *alert* template: only for alert and reminder messages (a
    # confirmation request or a notice must never come back as a LIFT ALARM with three buttons).
    fallback = message.get("kind", "alert") in ("alert", "reminder") and needs_template_fallback(
        bool(settings.template_name), message.get("channel"), error.get("code")
    )
    key, failure = failure_record(
        alert_id,
        round_no,
        str(message.get("recipient")),
        update.message_id,
        error,
        replaced_by_fallback=fallback,
    )
    recorded = repo.record_failure(alert_id, key, failure)
    if not isinstance(recorded, Written):
        return
    alert = recorded.item
    count("DeliveryFailed")
    logger.warning("delivery failed", extra={"alert_id": alert_id, "message_id": update.message_id})
    if all_deliveries_failed(alert, round_no) and int(alert.get("rounds_sent", 0)) == round_no:
        repo.bring_forward(alert_id, round_no=round_no, now=epoch(now))


def _record_follow_up_failure(
    alert_id: str, message: MessageItem, update: StatusUpdate, repo: AlertRepository, settings: Settings
) -> None:
    """Record a follow-up message's failure on the ledger entry that sent it (SPEC §10).

    A 131047 on a message that was not a template is marked for the template fallback,
    which the follow-up function sends from this change of the alert (SPEC §5).
    """
    log = {"alert_id": alert_id, "message_id": update.message_id, "kind": message.get("kind")}
    alert = repo.get_alert(alert_id)
    found = find_ledger_entry(alert, update.message_id) if alert else None
    if found is None:
        # The status raced the ledger write (milliseconds after the send): logged, not retried.
        logger.warning("failed follow-up message not on its alert yet", extra=log)
        count("FollowUpFailureUnplaced")
        return
    ledger, key, field = found
    error = update.error or {}
    failure: dict[str, Any] = {
        "message_id": update.message_id,
        "recipient": str(message.get("recipient")),
        "error": {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))},
    }
    if field == "failure" and needs_template_fallback(
        follow_up_template(settings, message.get("kind")) is not None,
        message.get("channel"),
        error.get("code"),
    ):
        failure["replaced_by_fallback"] = True
    if isinstance(repo.set_ledger_field(alert_id, ledger, key, field, failure), Written):
        count("FollowUpMessageFailed")
        logger.warning("follow-up message failed", extra={**log, "error_code": failure["error"]["code"]})
