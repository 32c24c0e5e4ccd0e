"""Parsing replies that are not taps, without AWS (SPEC §10): every kind WhatsApp sends.

Real-world bodies (pywa's test data, copied in tests/robustness/samples/real-world) and the
shared sample of a text quoting an alert message. Each reply keeps its sender for the
24-hour window exactly as an ignored message did.
"""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from lift_alerts.domain.inbound import Ignored, Reply, ReplyLocation
from lift_alerts.domain.inbound_parsing import REPLY_TEXT_MAX, extract_updates
from lift_alerts.flows.apply_updates import _ordering_key, _sighting
from lift_alerts.store.parking import decode, encode

ROOT = Path(__file__).resolve().parents[2]
REAL_WORLD = ROOT / "tests" / "robustness" / "samples" / "real-world"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "samples"
SENDER = {"wa_id": "972987654321", "user_id": "US.13491208655302741918", "name": "Test Name"}


def real(case: str, file: str = "message.json") -> dict[str, Any]:
    return dict(json.loads((REAL_WORLD / file).read_text())[case])


def only(body: dict[str, Any]) -> Any:
    (update,) = extract_updates(body)
    return update


def the_message(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["entry"][0]["changes"][0]["value"]["messages"][0])


def test_text_quoting_an_alert_message_keeps_context_sender_and_time() -> None:
    body = json.loads((SHARED / "reply_text_with_context.json").read_text())
    assert only(body) == Reply(
        reply_id="wamid.TEXT0001",
        type="text",
        text="On my way, 10 minutes out. Passenger talking on the intercom.",
        context_id="wamid.SENT0001",
        wa_id="27824537125",
        name="John Smith",
        received_at="2023-10-01T13:20:00Z",
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("text", {"type": "text", "text": "Body Text"}),
        ("reply", {"type": "text", "text": "replied text", "context_id": "wamid.xyzxyz=="}),
        ("forwarded", {"type": "text", "text": "forwarded text"}),
        ("referral", {"type": "text", "text": "BODY", "reply_id": "wamid.ID"}),
        ("image", {"type": "image", "media_id": "65463453", "mime_type": "image/jpeg"}),
        ("media_with_url", {"type": "image", "media_id": "65463453", "mime_type": "image/jpeg"}),
        ("video", {"type": "video", "media_id": "765756756", "mime_type": "video/mp4", "text": "caption"}),
        (
            "document",
            {
                "type": "document",
                "media_id": "1234567890987654321",
                "mime_type": "application/pdf",
                "text": "caption",
                "filename": "filename.pdf",
            },
        ),
        (
            "audio",
            {"type": "audio", "media_id": "1234567890987654321", "mime_type": "audio/ogg; codecs=opus"},
        ),
        (
            "voice",
            {"type": "voice", "media_id": "1234567890987654321", "mime_type": "audio/ogg; codecs=opus"},
        ),
        (
            "current_location",
            {
                "type": "location",
                "location": ReplyLocation(latitude=12.25089, longitude=43.90539, name=None, address=None),
            },
        ),
        (
            "chosen_location",
            {
                "type": "location",
                "location": ReplyLocation(
                    latitude=37.4611978,
                    longitude=-122.2164385,
                    name="Facebook HQ",
                    address="1 Hacker Way, Menlo Park, CA 94025",
                ),
            },
        ),
        ("contacts", {"type": "contacts", "text": "Chandler Bing +1 555-555-5555 (+2 more)"}),
    ],
)
def test_every_reply_kind_in_the_real_world_samples(case: str, expected: dict[str, Any]) -> None:
    body = real(case)
    update = only(body)
    assert isinstance(update, Reply)
    fields = {"reply_id": "wamid.xyzxyz", **SENDER, **expected}
    assert {k: getattr(update, k) for k in fields} == fields
    assert update.received_at.endswith("Z")
    # Everything not named is empty: no text invented for media without a caption.
    for name in ("text", "media_id", "mime_type", "filename", "location", "context_id"):
        if name not in expected:
            assert getattr(update, name) is None, name


@pytest.mark.parametrize(
    ("case", "file"),
    [
        ("static_sticker", "message.json"),
        ("animated_sticker", "message.json"),
        ("reaction", "message.json"),
        ("unreaction_no_emoji", "message.json"),
        ("order", "message.json"),
        ("unsupported", "message.json"),
        ("interactive_message_with_err", "message.json"),
        ("phone_number_change", "system.json"),
        ("image", "edited_message.json"),
        ("revoke", "deleted_message.json"),
    ],
)
def test_other_message_types_stay_ignored_and_keep_their_sender(case: str, file: str) -> None:
    update = only(real(case, file))
    assert isinstance(update, Ignored)
    assert update.reason.startswith("message:")
    assert update.at is not None


@pytest.mark.parametrize("case", ["text", "voice", "image", "chosen_location", "contacts"])
def test_a_reply_opens_the_window_like_any_message(case: str) -> None:
    update = only(real(case))
    sighting = _sighting(update)
    assert sighting is not None
    assert (sighting.wa_id, sighting.user_id) == (SENDER["wa_id"], SENDER["user_id"])
    assert sighting.at == int(the_message(real(case))["timestamp"])


def test_text_is_cut_at_4096_characters_and_captions_count_as_text() -> None:
    body = real("text")
    the_message(body)  # shape check
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "é" * 5000
    assert only(body).text == "é" * REPLY_TEXT_MAX
    video = real("video")
    video["entry"][0]["changes"][0]["value"]["messages"][0]["video"]["caption"] = "x" * 9000
    assert len(only(video).text) == REPLY_TEXT_MAX


def test_invalid_unicode_is_cleaned_and_line_breaks_kept() -> None:
    body = real("text")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "on my way\r\n\ud800 lift 3\x07"
    text = only(body).text
    assert text == "on my way\n? lift 3"  # the lone surrogate replaced, the bell dropped
    text.encode("utf-8")  # storable


def test_a_voice_note_is_voice_and_plain_audio_is_audio() -> None:
    assert only(real("voice")).type == "voice"
    assert only(real("audio")).type == "audio"
    body = real("voice")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["audio"]["voice"]
    assert only(body).type == "audio"


@pytest.mark.parametrize(
    "location",
    [
        {"latitude": "NaN", "longitude": 1e999},
        {"latitude": 91, "longitude": -181},
        {"latitude": "north", "longitude": None},
    ],
)
def test_impossible_coordinates_are_dropped_never_stored(location: dict[str, Any]) -> None:
    body = real("chosen_location")
    the = body["entry"][0]["changes"][0]["value"]["messages"][0]
    the["location"] = {**the["location"], **location}
    update = only(body)
    assert isinstance(update, Reply)
    assert update.location is not None
    assert (update.location.latitude, update.location.longitude) == (None, None)
    assert update.location.name == "Facebook HQ"


@pytest.mark.parametrize(
    ("part", "value"),
    [("text", 42), ("text", {"body": ["x"]}), ("image", "broken"), ("contacts", {"no": "list"})],
)
def test_a_malformed_part_leaves_a_reply_without_it(part: str, value: Any) -> None:
    body = real("text" if part == "text" else "image" if part == "image" else "contacts")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message[part] = value
    update = only(body)
    assert isinstance(update, Reply)
    assert update.reply_id == "wamid.xyzxyz"
    assert update.text is None
    assert update.media_id is None


def test_a_reply_without_an_id_is_ignored_with_its_sender() -> None:
    body = real("text")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    update = only(body)
    assert isinstance(update, Ignored)
    assert update.wa_id == SENDER["wa_id"]


def test_the_sender_from_the_contact_when_only_a_user_id_is_given() -> None:
    body = real("text")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["from"]
    message["from_user_id"] = SENDER["user_id"]
    update = only(body)
    assert (update.wa_id, update.user_id, update.name) == (SENDER["wa_id"], SENDER["user_id"], "Test Name")
    plus = deepcopy(real("text"))
    plus["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = "+972987654321"
    assert only(plus).wa_id == "972987654321"


def test_one_persons_replies_keep_their_order_and_survive_parking() -> None:
    replies = [only(real(case)) for case in ("text", "voice", "chosen_location", "document", "contacts")]
    assert {_ordering_key(r) for r in replies} == {"reply:972987654321"}
    assert decode(encode(replies)[0]) == replies


# -- what follows a kept reply, without AWS -----------------------------------------------------


def test_the_acknowledgement_names_the_ticket_lift_and_site() -> None:
    from lift_alerts.domain.wording import reply_ack_text

    text = reply_ack_text(reply_type="voice", ticket_id="EMG-7", lift_id="LIFT-B", site="Rosebank Mall")
    assert (
        text
        == "Thank you. Your voice note was passed on to the rescue desk for EMG-7 (LIFT-B at Rosebank Mall)."
    )
    assert "for EMG-7 (LIFT-B)." in reply_ack_text(
        reply_type="text", ticket_id="EMG-7", lift_id="LIFT-B", site=""
    )
    assert "Your message" in reply_ack_text(reply_type="sticker?", ticket_id="T", lift_id="L", site="S")


def test_the_acknowledgement_is_a_text_and_needs_the_window() -> None:
    from lift_alerts.domain.contents import ReplyAck

    fresh, stale = ReplyAck("hi", fresh=True), ReplyAck("hi", fresh=False)
    assert (fresh.inside, fresh.outside, stale.outside) == ("text", "text", None)
    assert fresh.body("27824537125", "text") == {"to": "27824537125", "text": "hi"}  # the Bridge's form
    assert fresh.body("27824537125", "template") is None  # no template: never a 131047 fallback


def test_one_event_per_reply_a_write_added() -> None:
    from lift_alerts.domain.events import MESSAGE_RECEIVED, events_for_change

    alert = {"alert_id": "a" * 32, "ticket_id": "EMG-1", "lift_id": "LIFT-A", "site": "S", "floor": "3"}
    first = {"event_id": "wamid.R1", "type": "text", "text": "on my way", "matched_by": "recent"}
    second = {"event_id": "wamid.R2", "type": "voice", "media_id": "M", "matched_by": "context"}
    old = {**alert, "messages_received": [first]}
    new = {**alert, "messages_received": [first, second]}
    (event,) = events_for_change(old, new)
    assert event.detail_type == MESSAGE_RECEIVED
    assert event.detail["event_id"] == "wamid.R2"
    assert (event.detail["alert_id"], event.detail["floor"], event.detail["media_id"]) == ("a" * 32, "3", "M")
    assert events_for_change(new, new) == []  # a write that added none (a tap, a status) publishes none
    assert [e.event_id for e in events_for_change(None, new)] == ["wamid.R1", "wamid.R2"]


def test_a_reply_whose_id_cleans_to_nothing_is_ignored() -> None:
    body = real("text")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "\x00\x01"
    assert isinstance(only(body), Ignored)
