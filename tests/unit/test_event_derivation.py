"""Which events a change of an alert item becomes (SPEC §7, §9, §10): `events_for_change` on the
old and new images of a stream record, as plain dicts. Pure: no stream, no bus."""

from __future__ import annotations

from typing import Any

import pytest

from lift_alerts.domain.events import (
    CONFIRMATION_MISSED,
    DELIVERY_FAILED,
    ESCALATED,
    MESSAGE_RECEIVED,
    PROVIDER_CONFIRMED,
    RESPONSE_RECEIVED,
    UNANSWERED,
    events_for_change,
)

ALERT_ID = "0123456789abcdef0123456789abcdef"


def alert(**fields: Any) -> dict[str, Any]:
    """An alert item as the stream's image shows it, with only what a test needs besides."""
    return {
        "alert_id": ALERT_ID,
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "site": "Sandton Office Park",
        "floor": "3",
        **fields,
    }


def tap(event_id: str, choice: str, wa_id: str = "27824537125") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "choice": choice,
        "button_title": choice.title(),
        "responder": {"wa_id": wa_id, "name": "Thabo"},
        "responded_at": "2026-11-24T10:01:00Z",
        "original_message_id": "wamid.SENT1",
        "matched_by": "button_id",
    }


def kinds(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(event.detail_type, event.event_id) for event in events_for_change(old, new)]


def test_a_new_alert_without_answers_is_no_event() -> None:
    assert events_for_change(None, alert(responses=[])) == []


def test_a_removed_item_is_no_event() -> None:
    assert events_for_change(alert(responses=[tap("e1", "test")]), None) == []


def test_the_first_tap_is_the_first_response_with_the_alert_and_the_tap() -> None:
    (event,) = events_for_change(alert(responses=[]), alert(responses=[tap("e1", "maintenance")]))
    assert event.detail_type == RESPONSE_RECEIVED
    assert event.detail == {
        "event_id": "e1",
        "alert_id": ALERT_ID,
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "site": "Sandton Office Park",
        "floor": "3",
        "choice": "maintenance",
        "button_title": "Maintenance",
        "responder": {"wa_id": "27824537125", "name": "Thabo"},
        "responded_at": "2026-11-24T10:01:00Z",
        "original_message_id": "wamid.SENT1",
        "first_response": True,
        "matched_by": "button_id",
        "outcome": "maintenance",
    }


def test_only_the_taps_the_write_added_are_published_and_the_outcome_only_rises() -> None:
    old = alert(responses=[tap("e1", "maintenance")])
    new = alert(responses=[tap("e1", "maintenance"), tap("e2", "entrapment"), tap("e3", "test")])
    events = events_for_change(old, new)
    assert [(e.event_id, e.detail["first_response"], e.detail["outcome"]) for e in events] == [
        ("e2", False, "entrapment"),
        ("e3", False, "entrapment"),  # a Test after an Entrapment never lowers the outcome
    ]


def test_a_redelivered_record_derives_the_same_ids() -> None:
    old, new = alert(responses=[]), alert(responses=[tap("e1", "test")], rounds={"1": _round(1)})
    assert kinds(old, new) == kinds(old, new)


def test_a_delivery_failure_is_published_once_without_the_place() -> None:
    failure = {
        "event_id": "f1",
        "recipient": "27824537125",
        "message_id": "wamid.X",
        "error": {"code": 131026},
    }
    (event,) = events_for_change(alert(failures={}), alert(failures={"wamid.X": failure}))
    assert event.detail_type == DELIVERY_FAILED
    assert "site" not in event.detail
    assert "floor" not in event.detail
    assert event.detail["recipient"] == "27824537125"
    assert event.detail["error"] == {"code": 131026}
    assert events_for_change(alert(failures={"wamid.X": failure}), alert(failures={"wamid.X": failure})) == []


def test_a_failure_replaced_by_the_template_fallback_is_not_published() -> None:
    failure = {
        "event_id": "f1",
        "recipient": "27824537125",
        "error": {"code": 131047},
        "replaced_by_fallback": True,
    }
    assert events_for_change(alert(failures={}), alert(failures={"wamid.X": failure})) == []


def _round(number: int) -> dict[str, Any]:
    return {"round": number, "recipients": ["27831234567"], "reason": "no_response"}


def test_each_new_round_is_an_escalation_in_round_order() -> None:
    new = alert(rounds={"10": _round(10), "2": _round(2), "1": _round(1)})
    assert kinds(alert(rounds={"1": _round(1)}), new) == [
        (ESCALATED, f"{ALERT_ID}:round:2"),
        (ESCALATED, f"{ALERT_ID}:round:10"),  # numeric order, not "10" < "2"
    ]


def test_each_new_reply_is_a_message_received_with_its_fields() -> None:
    reply = {
        "event_id": "r1",
        "type": "text",
        "text": "on my way",
        "from": "27824537125",
        "received_at": "2026-11-24T10:02:00Z",
        "matched_by": "context",
        "not_published": "x",
    }
    (event,) = events_for_change(alert(messages_received=[]), alert(messages_received=[reply]))
    assert event.detail_type == MESSAGE_RECEIVED
    assert event.detail["text"] == "on my way"
    assert event.detail["media_id"] is None  # every reply field is present, None when absent
    assert "not_published" not in event.detail


def test_unanswered_is_published_once_with_the_rounds_sent() -> None:
    old, new = alert(), alert(unanswered_at="2026-11-24T10:30:00Z", rounds_sent=3)
    ((detail_type, event_id),) = kinds(old, new)
    assert (detail_type, event_id) == (UNANSWERED, f"{ALERT_ID}:unanswered")
    assert events_for_change(old, new)[0].detail["rounds"] == 3
    assert events_for_change(new, new) == []


@pytest.mark.parametrize(
    ("confirmation", "expected"),
    [
        (
            {
                "confirmed_at": "2026-11-24T10:05:00Z",
                "confirmed_by": {"wa_id": "27824537125", "name": "Thabo"},
            },
            (PROVIDER_CONFIRMED, f"{ALERT_ID}:confirmed"),
        ),
        (
            {"missed_at": "2026-11-24T10:20:00Z", "rounds_sent": 2},
            (CONFIRMATION_MISSED, f"{ALERT_ID}:confirmation_missed"),
        ),
    ],
)
def test_a_confirmation_or_its_miss_is_published_once(
    confirmation: dict[str, Any], expected: tuple[str, str]
) -> None:
    old, new = alert(confirmation={"requested_at": "x"}), alert(confirmation=confirmation)
    assert kinds(old, new) == [expected]
    assert kinds(new, new) == []


def test_who_confirmed_is_only_their_id_and_name() -> None:
    confirmation = {
        "confirmed_at": "2026-11-24T10:05:00Z",
        "confirmed_by": {"wa_id": "27824537125", "name": "Thabo", "message_id": "wamid.Y"},
    }
    (event,) = events_for_change(alert(), alert(confirmation=confirmation))
    assert event.detail["confirmed_by"] == {"wa_id": "27824537125", "name": "Thabo"}
    assert event.detail["confirmed_at"] == "2026-11-24T10:05:00Z"


def test_one_write_with_everything_new_publishes_in_a_fixed_order() -> None:
    failure = {"event_id": "f1", "recipient": "27831234567", "error": {"code": 131026}}
    reply = {"event_id": "r1", "type": "text", "text": "ok"}
    new = alert(
        responses=[tap("e1", "test")],
        failures={"wamid.X": failure},
        rounds={"1": _round(1)},
        messages_received=[reply],
        unanswered_at="2026-11-24T10:30:00Z",
    )
    assert [kind for kind, _ in kinds(alert(), new)] == [
        RESPONSE_RECEIVED,
        DELIVERY_FAILED,
        ESCALATED,
        MESSAGE_RECEIVED,
        UNANSWERED,
    ]
