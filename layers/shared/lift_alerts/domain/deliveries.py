"""What sending a message came to (SPEC §4, §5, §11): Woosh's answer per recipient
(`SendResult`), one recipient's delivery in a round (`Delivery`), and the records a round or a
confirmation step writes on its alert. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lift_alerts.domain.alert_facts import failure_record, sends_in_round
from lift_alerts.domain.alert_item import QUEUED, Failure, MessageRef, RecipientLine, SendRecord
from lift_alerts.domain.channels import Channel


@dataclass(frozen=True)
class SendResult:
    to: str
    message_id: str | None
    error_code: str | None = None
    error_title: str | None = None

    @property
    def accepted(self) -> bool:
        return self.message_id is not None

    def error(self) -> dict[str, str] | None:
        if self.accepted:
            return None
        return {"code": self.error_code or "bad_response", "title": self.error_title or "send failed"}


# Code of a message that got no send slot before its deadline: nothing was sent, and the
# caller may queue it (SPEC §11).
NO_SLOT = "no_send_slot"
NO_SLOT_TITLE = "no send slot within Woosh's rate limits before the deadline"


def no_slot(to: str) -> SendResult:
    return SendResult(to, None, NO_SLOT, NO_SLOT_TITLE)


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


def step_records(
    alert_id: str, step: int, kind: str, deliveries: list[Delivery]
) -> tuple[dict[str, MessageRef], dict[str, Failure]]:
    """The message mappings (taps on them match by context) and the delivery failures (each
    published once as "Alert Delivery Failed") one confirmation step adds to its alert.

    Failures carry no escalation `round`: a confirmation message never makes an escalation
    round "all deliveries failed".
    """
    messages: dict[str, MessageRef] = {}
    failures: dict[str, Failure] = {}
    for delivery in deliveries:
        if delivery.skipped or delivery.queued:
            continue  # a queued question is recorded by the dispatcher once it is sent
        to, result = delivery.to, delivery.result
        if result.message_id is not None:
            messages[result.message_id] = {"to": to, "round": None, "channel": delivery.channel, "kind": kind}
        if delivery.replaced is not None:
            # Refused with 131047 and replaced by the template at once: history, not published.
            failures[f"confirm:{step}:{to}:replaced"] = _failure(
                f"{alert_id}:confirm:{step}:{to}:replaced", to, None, delivery.replaced.error() or {}, step
            ) | {"replaced_by_fallback": True}
        error = result.error() or delivery.early_failure
        if error is None:
            continue
        if result.message_id is None:
            failures[f"confirm:{step}:{to}"] = _failure(
                f"{alert_id}:confirm:{step}:{to}:failed", to, None, error, step
            )
        else:
            failures[result.message_id] = _failure(
                f"{result.message_id}:failed", to, result.message_id, error, step
            )
    return messages, failures


def _failure(event_id: str, to: str, message_id: str | None, error: dict[str, Any], step: int) -> Failure:
    return {
        "event_id": event_id,
        "recipient": to,
        "message_id": message_id,
        "error": {"code": str(error.get("code", "failed")), "title": str(error.get("title", ""))},
        "round": None,
        "confirmation_step": step,
    }
