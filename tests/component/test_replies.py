"""Replies that are not taps (SPEC §10), through the handlers with AWS in moto.

What a person sees (the acknowledgement Woosh received), what GET shows
(`messages_received`), what reached the bus ("Alert Message Received"), and that a reply
never counts as a tap: escalation goes on and the outcome stays.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from local.woosh_standin import webhook_envelope
from tests.support.harness import ROOT, StreamPump, handler_module
from tests.support.openapi import assert_conforms, component
from tests.support.samples import real_world_bodies
from tests.support.service import Service

TECH = "27824537125"
COLLEAGUE = "27831234567"
STRANGER = "27899999999"
MINUTE = 60
REAL_WORLD = ROOT / "tests" / "robustness" / "samples" / "real-world"

_ids = iter(range(1_000_000))


def reply(
    service: Service,
    phone: str,
    *,
    kind: str = "text",
    part: dict[str, Any] | None = None,
    context: str | None = None,
    after: int = 0,
    reply_id: str | None = None,
    name: str = "John Smith",
) -> tuple[str, dict[str, Any]]:
    """`phone` writes to the business `after` seconds from now; returns (reply id, answer body)."""
    reply_id = reply_id or f"wamid.REPLY{next(_ids)}"
    message: dict[str, Any] = {
        "from": phone,
        "id": reply_id,
        "timestamp": str(int(time.time()) + after),
        "type": kind,
        kind: part if part is not None else {"body": "On my way, 10 minutes out."},
    }
    if context:
        message["context"] = {"from": "27123456789", "id": context}
    body = webhook_envelope(
        {"contacts": [{"profile": {"name": name}, "wa_id": phone}], "messages": [message]}
    )
    answer = service.webhook(body)
    assert answer.status == 200, answer.text
    return reply_id, dict(answer.json())


def first_message(alert: dict[str, Any]) -> str:
    return str(alert["messages"][0]["message_id"])


def acks(service: Service, phone: str) -> list[str]:
    return [m.text or "" for m in service.woosh.sent if m.to == phone and m.kind == "text"]


def kept(service: Service, alert_id: str) -> list[dict[str, Any]]:
    return list(service.get_alert(alert_id).json()["messages_received"])


def received(service: Service) -> list[dict[str, Any]]:
    return service.details("Alert Message Received")


def test_a_text_quoting_the_alert_is_kept_published_and_acknowledged_once(service: Service) -> None:
    alert = service.send_alert([TECH, COLLEAGUE])
    payload_id, answer = reply(service, TECH, context=first_message(alert))
    assert answer["outcomes"] == {"reply_matched_context": 1}
    # The Bridge delivers it again: kept once, still 200.
    _same, again = reply(service, TECH, context=first_message(alert), reply_id=payload_id)
    assert again["outcomes"] == {"reply_duplicate": 1}

    view = service.get_alert(alert["alert_id"])
    body = assert_conforms("/alerts/{alert_id}", "GET", view)
    (entry,) = body["messages_received"]
    assert entry["event_id"] == payload_id
    assert (entry["type"], entry["text"], entry["matched_by"]) == (
        "text",
        "On my way, 10 minutes out.",
        "context",
    )
    assert entry["from"] == {"wa_id": TECH, "name": "John Smith"}
    assert entry["received_at"].endswith("Z")

    (event,) = received(service)
    assert event["event_id"] == payload_id
    assert {k: event[k] for k in ("alert_id", "ticket_id", "lift_id", "site", "floor")} == {
        "alert_id": alert["alert_id"],
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "site": "Sandton Office Park",
        "floor": "3",
    }
    assert {k: event[k] for k in entry} == entry
    assert not list(component("MessageReceivedEvent").iter_errors(event))

    (ack,) = acks(service, TECH)
    assert "passed on to the rescue desk for EMG-1" in ack
    assert acks(service, COLLEAGUE) == []  # only the person who wrote is answered

    # The stream delivers every record again (a retried batch): no second acknowledgement,
    # and a re-publication can only repeat the same event_id.
    replay = StreamPump(service.table, "af-south-1")
    replay.drain(handler_module("followup").lambda_handler)
    replay = StreamPump(service.table, "af-south-1")
    replay.drain(handler_module("publisher").lambda_handler)
    assert {e["event_id"] for e in received(service)} == {payload_id}
    assert len(acks(service, TECH)) == 1
    ledger = service.stored_alert(alert["alert_id"])["acks"]
    assert list(ledger) == [payload_id]
    assert ledger[payload_id]["kind"] == "reply_ack"


def test_a_voice_note_without_context_goes_to_the_alert_sent_ten_minutes_before(service: Service) -> None:
    alert = service.send_alert([TECH])
    voice = {"id": "MEDIA1", "mime_type": "audio/ogg; codecs=opus", "voice": True}
    note_id, answer = reply(service, TECH, kind="audio", part=voice, after=10 * MINUTE)
    assert answer["outcomes"] == {"reply_matched_recent": 1}
    (entry,) = kept(service, alert["alert_id"])
    assert (entry["event_id"], entry["type"], entry["media_id"], entry["mime_type"], entry["matched_by"]) == (
        note_id,
        "voice",
        "MEDIA1",
        "audio/ogg; codecs=opus",
        "recent",
    )
    assert entry["text"] is None
    assert [e["event_id"] for e in received(service)] == [note_id]
    (ack,) = acks(service, TECH)
    assert "voice note" in ack


def test_past_the_reply_window_a_reply_matches_nothing(service: Service) -> None:
    service.send_alert([TECH])
    _id, answer = reply(service, TECH, after=3600 + 5)  # REPLY_WINDOW_SECONDS defaults to an hour
    assert answer["outcomes"] == {"reply_unmatched_no_recent_alert": 1}


def test_a_closed_alert_gets_no_reply_by_time(service: Service) -> None:
    alert = service.send_alert([TECH])
    assert service.close_alert(alert["alert_id"]).status == 200
    voice = {"id": "MEDIA1", "mime_type": "audio/ogg", "voice": True}
    _id, answer = reply(service, TECH, kind="audio", part=voice, after=10 * MINUTE)
    assert answer["outcomes"] == {"reply_unmatched_no_recent_alert": 1}
    assert kept(service, alert["alert_id"]) == []
    assert received(service) == []
    assert acks(service, TECH) == []


def test_two_open_alerts_the_latest_by_time_and_context_beats_time(service: Service) -> None:
    older = service.send_alert([TECH], ticket_id="EMG-OLD", lift_id="LIFT-A")
    time.sleep(1.1)  # sent_at is whole seconds: the second alert is strictly later
    newer = service.send_alert([TECH], ticket_id="EMG-NEW", lift_id="LIFT-B")
    plain_id, answer = reply(service, TECH, after=2 * MINUTE)
    assert answer["outcomes"] == {"reply_matched_recent": 1}
    quoting_id, answer = reply(service, TECH, context=first_message(older), after=3 * MINUTE)
    assert answer["outcomes"] == {"reply_matched_context": 1}
    assert [r["event_id"] for r in kept(service, newer["alert_id"])] == [plain_id]
    assert [(r["event_id"], r["matched_by"]) for r in kept(service, older["alert_id"])] == [
        (quoting_id, "context")
    ]
    events = {e["event_id"]: e["ticket_id"] for e in received(service)}
    assert events == {plain_id: "EMG-NEW", quoting_id: "EMG-OLD"}
    texts = acks(service, TECH)
    assert len(texts) == 2
    assert any("EMG-NEW" in t for t in texts)
    assert any("EMG-OLD" in t for t in texts)


def test_the_latest_open_alert_when_the_newest_one_is_closed(service: Service) -> None:
    older = service.send_alert([TECH], ticket_id="EMG-OLD")
    time.sleep(1.1)
    newer = service.send_alert([TECH], ticket_id="EMG-NEW")
    service.close_alert(newer["alert_id"])
    _id, answer = reply(service, TECH, after=MINUTE)
    assert answer["outcomes"] == {"reply_matched_recent": 1}
    assert len(kept(service, older["alert_id"])) == 1
    assert kept(service, newer["alert_id"]) == []


def test_a_quoted_reminder_or_acknowledgement_belongs_to_its_alert(service: Service) -> None:
    alert = service.send_alert([TECH], escalation={"after_seconds": 60, "max_rounds": 1})
    service.run_timer(datetime.now(UTC) + timedelta(seconds=61))
    reminder = [m for m in service.woosh.sent if m.to == TECH and m.kind == "interactive"][-1]
    _id, answer = reply(service, TECH, context=reminder.message_id)
    assert answer["outcomes"] == {"reply_matched_context": 1}
    received(service)  # acknowledged
    ack = next(m for m in service.woosh.sent if m.to == TECH and m.kind == "text")
    _id, answer = reply(service, TECH, context=ack.message_id, after=90 * MINUTE)  # quoting the ack
    assert answer["outcomes"] == {"reply_matched_context": 1}
    assert len(kept(service, alert["alert_id"])) == 2


def test_a_reply_never_stops_escalation_nor_changes_the_outcome(service: Service) -> None:
    alert = service.send_alert([TECH, COLLEAGUE], escalation={"after_seconds": 60, "max_rounds": 1})
    reply(service, TECH, context=first_message(alert))
    reply(service, COLLEAGUE, after=5)
    stored = service.stored_alert(alert["alert_id"])
    assert "due_at" in stored
    assert stored["responses"] == []
    service.events()
    view = service.get_alert(alert["alert_id"]).json()
    assert (view["state"], view["outcome"], view["first_response"], view["responses"]) == (
        "awaiting_response",
        None,
        None,
        [],
    )
    report = service.run_timer(datetime.now(UTC) + timedelta(seconds=61))
    assert report["rounds_sent"] == [f"{alert['alert_id']}:1"]
    reminders = [
        m for m in service.woosh.sent if m.kind == "interactive" and "REMINDER 1/1" in (m.text or "")
    ]
    assert sorted(m.to for m in reminders) == sorted([TECH, COLLEAGUE])
    assert service.details("Alert Response Received") == []
    assert len(kept(service, alert["alert_id"])) == 2


def test_a_reply_after_a_tap_leaves_the_outcome_as_tapped(service: Service) -> None:
    alert = service.send_alert([TECH])
    service.tap(first_message(alert), 2)
    reply(service, TECH, context=first_message(alert), part={"body": "just testing, ignore"})
    view = service.get_alert(alert["alert_id"]).json()
    assert (view["state"], view["outcome"], len(view["responses"])) == ("answered", "entrapment", 1)
    assert len(view["messages_received"]) == 1


def test_location_and_document_fields_are_kept(service: Service) -> None:
    alert = service.send_alert([TECH])
    place = {
        "latitude": -26.1076,
        "longitude": 28.0567,
        "name": "Sandton Office Park",
        "address": "5 Rivonia Rd",
    }
    loc_id, _ = reply(service, TECH, kind="location", part=place, context=first_message(alert))
    document = {
        "id": "DOC1",
        "mime_type": "application/pdf",
        "filename": "lift-log.pdf",
        "caption": "log book",
    }
    doc_id, _ = reply(service, TECH, kind="document", part=document, after=5)
    body = assert_conforms("/alerts/{alert_id}", "GET", service.get_alert(alert["alert_id"]))
    location, doc = body["messages_received"]
    assert (location["event_id"], location["type"], location["text"]) == (loc_id, "location", None)
    assert location["location"] == place
    assert (
        doc["event_id"],
        doc["type"],
        doc["text"],
        doc["media_id"],
        doc["mime_type"],
        doc["filename"],
    ) == (
        doc_id,
        "document",
        "log book",
        "DOC1",
        "application/pdf",
        "lift-log.pdf",
    )
    events = {e["event_id"]: e for e in received(service)}
    assert events[loc_id]["location"] == place
    assert events[doc_id]["filename"] == "lift-log.pdf"
    for event in events.values():
        assert not list(component("MessageReceivedEvent").iter_errors(event))


def test_a_contact_card_is_kept_as_a_line_of_text(service: Service) -> None:
    alert = service.send_alert([TECH])
    card = [{"name": {"formatted_name": "Otis Technician"}, "phones": [{"phone": "+27 82 555 0101"}]}]
    message = {
        "from": TECH,
        "id": "wamid.CARD1",
        "timestamp": str(int(time.time())),
        "type": "contacts",
        "contacts": card,
    }
    service.webhook(webhook_envelope({"contacts": [{"wa_id": TECH}], "messages": [message]}))
    (entry,) = kept(service, alert["alert_id"])
    assert (entry["type"], entry["text"]) == ("contacts", "Otis Technician +27 82 555 0101")


def test_a_reply_from_an_unknown_person_is_unmatched_and_answered_200(service: Service) -> None:
    alert = service.send_alert([TECH])
    _id, answer = reply(service, STRANGER)
    assert answer["outcomes"] == {"reply_unmatched_no_recent_alert": 1}
    _id, answer = reply(service, STRANGER, context="wamid.NOT_OURS")
    assert answer["outcomes"] == {"reply_unmatched_no_recent_alert": 1}
    assert kept(service, alert["alert_id"]) == []
    assert received(service) == []
    assert acks(service, STRANGER) == []


def test_text_over_4096_characters_is_cut(service: Service) -> None:
    alert = service.send_alert([TECH])
    reply(service, TECH, part={"body": "ä" * 5000}, context=first_message(alert))
    (entry,) = kept(service, alert["alert_id"])
    assert entry["text"] == "ä" * 4096
    (event,) = received(service)
    assert len(event["text"]) == 4096


def test_a_reply_parked_through_an_outage_is_kept_published_and_acknowledged_once(service: Service) -> None:
    from tests.robustness.support import inject, run_parked

    alert = service.send_alert([TECH])
    with inject("dynamodb", None, "ServiceUnavailable"):
        reply_id, answer = reply(service, TECH, context=first_message(alert))
    assert answer["parked"] == 1
    assert kept(service, alert["alert_id"]) == []
    assert run_parked(service)["batchItemFailures"] == []
    assert [r["event_id"] for r in kept(service, alert["alert_id"])] == [reply_id]
    assert [e["event_id"] for e in received(service)] == [reply_id]
    assert len(acks(service, TECH)) == 1


def test_every_real_world_body_answers_200_and_publishes_nothing_without_an_alert(service: Service) -> None:
    bodies = real_world_bodies()
    assert len(bodies) >= 70
    outcomes: set[str] = set()
    for name, body in bodies:
        answer = service.webhook(body)
        assert answer.status == 200, (name, answer.text)
        outcomes |= set(answer.json()["outcomes"])
    assert {o for o in outcomes if o.startswith("reply_")} == {"reply_unmatched_no_recent_alert"}
    assert not any(o.startswith(("reply_matched", "tap_matched")) for o in outcomes)
    assert service.events() == []
    assert service.woosh.sent == []


def test_an_acknowledgement_about_an_older_alert_does_not_make_it_the_latest(service: Service) -> None:
    older = service.send_alert([TECH], ticket_id="EMG-OLD")
    time.sleep(1.1)
    newer = service.send_alert([TECH], ticket_id="EMG-NEW")
    time.sleep(1.1)
    reply(service, TECH, context=first_message(older))
    received(service)  # the acknowledgement about EMG-OLD goes out now, after EMG-NEW
    assert any("EMG-OLD" in text for text in acks(service, TECH))
    plain_id, answer = reply(service, TECH, after=3 * MINUTE)
    assert answer["outcomes"] == {"reply_matched_recent": 1}
    assert [r["event_id"] for r in kept(service, newer["alert_id"])] == [plain_id]


def test_replies_never_crowd_taps_out_of_the_alert(service: Service) -> None:
    alert = service.send_alert([TECH])
    outcomes = []
    for _n in range(16):  # 16 x 4096 two-byte characters: more than the alert keeps for replies
        _id, answer = reply(service, TECH, part={"body": "ä" * 4096}, context=first_message(alert))
        outcomes += list(answer["outcomes"])
    kept_count = outcomes.count("reply_matched_context")
    assert 5 <= kept_count < 16
    assert outcomes[kept_count:] == ["reply_not_kept_full"] * (16 - kept_count)
    assert len(kept(service, alert["alert_id"])) == kept_count
    assert service.tap(first_message(alert), 2).json()["outcomes"] == {"tap_matched_context": 1}
    assert service.get_alert(alert["alert_id"]).json()["outcome"] == "entrapment"
