"""An alert's timeline (SPEC §13) from stored items, as domain.timeline builds it: pure."""

from __future__ import annotations

from typing import Any, cast

from lift_alerts.domain.alert_item import AlertItem, MessageItem
from lift_alerts.domain.timeline import status_history, timeline, timeline_message_ids

TECH, DESK = "27824537125", "27831234567"
T0 = "2026-03-01T18:00:00Z"


def alert(**fields: Any) -> AlertItem:
    base: dict[str, Any] = {
        "alert_id": "a" * 32,
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "created_at": T0,
        "created_epoch": 1772388000,
        "recipient_order": [TECH, DESK],
        "recipients": {},
        "escalation": {"after_seconds": 60, "max_rounds": 1, "recipients": []},
        "reminders": {
            f"0:{TECH}": {"message_id": "wamid.A1", "error": None, "channel": "interactive"},
            f"0:{DESK}": {
                "message_id": None,
                "error": {"code": "invalid_phone", "title": "bad"},
                "channel": None,
            },
        },
    }
    return cast(AlertItem, base | fields)


def messages(**items: dict[str, Any]) -> dict[str, MessageItem]:
    return {message_id: cast(MessageItem, item) for message_id, item in items.items()}


def test_a_message_shows_its_status_history_in_the_order_statuses_come() -> None:
    item = {
        "kind": "alert",
        "delivery_status": "read",
        "sent_time": T0,
        "status_read_at": "2026-03-01T18:00:09Z",
        "status_sent_at": "2026-03-01T18:00:01Z",
        "status_delivered_at": "2026-03-01T18:00:05Z",
    }
    entries = timeline(alert(), messages(**{"wamid.A1": item}))
    first = entries[0]
    assert first == {
        "at": T0,
        "kind": "message",
        "to": TECH,
        "what": "alert",
        "round": 0,
        "channel": "interactive",
        "message_id": "wamid.A1",
        "status": "read",
        "statuses": [
            {"status": "sent", "at": "2026-03-01T18:00:01Z"},
            {"status": "delivered", "at": "2026-03-01T18:00:05Z"},
            {"status": "read", "at": "2026-03-01T18:00:09Z"},
        ],
        "error": None,
    }
    assert status_history(cast(MessageItem, {"status_failed_at": T0})) == [{"status": "failed", "at": T0}]


def test_a_send_refused_at_once_is_a_failed_message_without_id() -> None:
    refused = timeline(alert(), {})[1]
    assert (refused["to"], refused["status"], refused["message_id"]) == (DESK, "failed", None)
    assert refused["error"] == {"code": "invalid_phone", "title": "bad"}


def test_queued_and_dropped_sends_say_so() -> None:
    reminders = {
        f"0:{TECH}": {"message_id": None, "error": {"code": "queued", "title": "waiting"}},
        f"0:{DESK}": {"message_id": None, "error": {"code": "dropped", "title": "alert_closed"}},
    }
    statuses = [(e["to"], e["status"], e["error"]) for e in timeline(alert(reminders=reminders), {})]
    assert statuses == [
        (TECH, "queued", None),
        (DESK, "not_sent", {"code": "dropped", "title": "alert_closed"}),
    ]


def test_entries_of_one_second_keep_the_order_they_happened_in() -> None:
    tap = {"event_id": "wamid.TAP", "choice": "entrapment", "responded_at": "2026-03-01T18:01:00Z"}
    stored = alert(
        rounds={
            "1": {
                "round": 1,
                "recipients": [TECH],
                "reason": "no_response",
                "sent_at": "2026-03-01T18:01:00Z",
            }
        },
        reminders={
            **alert()["reminders"],
            f"1:{TECH}": {"message_id": "wamid.R1", "error": None, "channel": "interactive"},
        },
        responses=[tap],
        first_response=tap,
        acks={
            "wamid.TAP": {
                "to": TECH,
                "kind": "ack",
                "sent_at": "2026-03-01T18:01:00Z",
                "message_id": "wamid.K",
            }
        },
        closed_at="2026-03-01T18:01:00Z",
        close_reason="technician on site",
    )
    same_second = [
        (e["kind"], e.get("what")) for e in timeline(stored, {}) if e["at"] == "2026-03-01T18:01:00Z"
    ]
    assert same_second == [
        ("escalated", None),
        ("message", "reminder"),
        ("tap", None),
        ("closed", None),
        ("message", "acknowledgement"),
    ]


def test_taps_replies_and_the_confirmation() -> None:
    first = {"event_id": "wamid.T1", "choice": "entrapment", "responded_at": "2026-03-01T18:00:30Z"}
    later = {"event_id": "wamid.T2", "choice": "test", "responded_at": "2026-03-01T18:00:40Z"}
    reply = {
        "event_id": "wamid.R",
        "type": "text",
        "text": "on my way",
        "received_at": "2026-03-01T18:00:50Z",
    }
    yes = {
        "event_id": "wamid.Y",
        "responder": {"wa_id": DESK, "name": "Desk"},
        "responded_at": "2026-03-01T18:03:00Z",
    }
    stored = alert(
        responses=[first, later],
        first_response=first,
        messages_received=[reply],
        confirmation={"requested_at": "2026-03-01T18:00:31Z", "confirmed_at": yes["responded_at"]},
        confirmations=[yes],
        closed_at=yes["responded_at"],
        close_reason="provider_confirmed",
    )
    entries = [e for e in timeline(stored, {}) if e["kind"] != "message"]
    assert [(e["kind"], e["at"]) for e in entries] == [
        ("tap", "2026-03-01T18:00:30Z"),
        ("confirmation_requested", "2026-03-01T18:00:31Z"),
        ("tap", "2026-03-01T18:00:40Z"),
        ("reply", "2026-03-01T18:00:50Z"),
        ("confirmed", "2026-03-01T18:03:00Z"),
        ("closed", "2026-03-01T18:03:00Z"),
    ]
    assert [e["first"] for e in entries if e["kind"] == "tap"] == [True, False]
    assert entries[0]["choice"] == "entrapment"
    assert entries[3]["text"] == "on my way"
    assert entries[4]["by"] == {"wa_id": DESK, "name": "Desk"}
    assert entries[5]["reason"] == "provider_confirmed"


def test_a_template_fallback_follows_the_refusal_it_replaced() -> None:
    reminders = {
        f"0:{TECH}": {
            "message_id": "wamid.TPL",
            "error": None,
            "channel": "template",
            "replaced_error": {"code": "131047", "title": "Re-engagement message"},
        }
    }
    entries = timeline(alert(reminders=reminders), {})
    assert [(e["what"], e["channel"], e["status"], e["message_id"]) for e in entries] == [
        ("alert", "interactive", "failed", None),
        ("fallback", "template", "accepted", "wamid.TPL"),
    ]


def test_the_message_ids_the_timeline_reads() -> None:
    stored = alert(
        fallbacks={"wamid.A1": {"to": TECH, "round": 0, "message_id": "wamid.FB", "sent_at": T0}},
        notices={
            "entrapment:" + DESK: {"to": DESK, "kind": "notice", "sent_at": T0, "message_id": "wamid.N"}
        },
    )
    assert sorted(timeline_message_ids(stored)) == ["wamid.A1", "wamid.FB", "wamid.N"]
