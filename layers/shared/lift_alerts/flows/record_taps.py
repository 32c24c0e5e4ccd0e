"""Taps and YES taps (SPEC §6, §10): match each to its alert, by `context.id` first, then by
the alert its button id names, and record it with one conditional write. A payload that is
just a label matches by `context.id` only: guessing among one person's open alerts is the
mistake this service exists to avoid. Every tap ends as exactly one outcome: recorded (matched
by context or by button), duplicate, or unmatched with a reason, logged and counted."""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.choices import (
    Choice,
    parse_button_id,
    parse_button_label,
    parse_confirm_id,
)
from lift_alerts.domain.inbound import Tap
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.answers import TapResult
from lift_alerts.store.repositories import Repositories
from lift_alerts.store.table import Written


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


def record_tap(tap: Tap, repos: Repositories, log: dict[str, Any] | None = None) -> str:
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
        return _record_label_tap(tap, label_choice, repos, log)
    log["alert_id"] = ref.alert_id
    choice = ref.choice.value

    if tap.context_id:
        by_context = _response(tap, choice, "context", tap.context_id)
        # Common case, one write: the button's alert really sent this message.
        result = repos.answers.record_tap(ref.alert_id, by_context, require_message=tap.context_id)
        if isinstance(result, Written):
            return _recorded("context", log)
        if result.reason == "duplicate":
            return _duplicate(log)
        message = repos.messages.find_message(tap.context_id)
        owner = message.get("alert_id") if message else None
        if owner:
            if owner != ref.alert_id:
                # context.id wins: the button id names another alert than the message did.
                logger.warning("tap context and button disagree", extra={**log, "context_alert_id": owner})
                count("TapContextButtonDisagree")
                log["alert_id"] = str(owner)
            result = repos.answers.record_tap(str(owner), by_context)
            return _after_fallback(result, "context", log)
    # No usable context: the alert and choice encoded in the button id.
    result = repos.answers.record_tap(ref.alert_id, _response(tap, choice, "button", tap.context_id))
    return _after_fallback(result, "button", log)


def record_yes(tap: Tap, repos: Repositories, log: dict[str, Any] | None = None) -> str:
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
            result = repos.answers.record_confirmation(
                named,
                {**yes, "matched_by": "context"},
                closed_at=tap.responded_at,
                require_message=tap.context_id,
            )
            if isinstance(result, Written) or result.reason in ("duplicate", "not_requested"):
                return _yes_outcome(result, "context", log)
        message = repos.messages.find_message(tap.context_id)
        owner = str(message["alert_id"]) if message and message.get("alert_id") else None
        if owner:
            log["alert_id"] = owner
            result = repos.answers.record_confirmation(
                owner, {**yes, "matched_by": "context"}, closed_at=tap.responded_at
            )
            return _yes_outcome(result, "context", log)
    if named is None:
        return _unmatched("no_alert_reference", log)
    result = repos.answers.record_confirmation(
        named, {**yes, "matched_by": "button"}, closed_at=tap.responded_at
    )
    return _yes_outcome(result, "button", log)


def _yes_outcome(result: TapResult, matched_by: str, log: dict[str, Any]) -> str:
    if isinstance(result, Written):
        return matched("confirmation", "ConfirmationRecorded", matched_by, log)
    if result.reason == "duplicate":
        return _duplicate(log)
    if result.reason == "not_requested":
        return _unmatched("confirmation_not_requested", log)
    return _unmatched("unknown_alert", log)


def _record_label_tap(tap: Tap, choice: Choice, repos: Repositories, log: dict[str, Any]) -> str:
    """A static-payload quick reply: the alert comes from `context.id` only (SPEC §6).

    Never guessed from the sender's other open alerts: with two emergencies open for one
    person, any guess may put an entrapment on the wrong lift.
    """
    message = repos.messages.find_message(tap.context_id) if tap.context_id else None
    owner = message.get("alert_id") if message else None
    if not owner:
        return _unmatched("no_alert_reference", log)
    log["alert_id"] = str(owner)
    result = repos.answers.record_tap(str(owner), _response(tap, choice.value, "context", tap.context_id))
    return _after_fallback(result, "context", log)


def _after_fallback(result: TapResult, matched_by: str, log: dict[str, Any]) -> str:
    if isinstance(result, Written):
        return _recorded(matched_by, log)
    if result.reason == "duplicate":
        return _duplicate(log)
    return _unmatched("unknown_alert", log)


def _recorded(matched_by: str, log: dict[str, Any]) -> str:
    return matched("tap", "TapMatched", matched_by, log)


def matched(what: str, metric: str, matched_by: str, log: dict[str, Any]) -> str:
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
