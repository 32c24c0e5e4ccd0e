"""Parsing without AWS: the Bridge's status wrapper, its older form, and static-payload labels (SPEC §6)."""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from lift_alerts.domain.choices import Choice, parse_button_id, parse_button_label
from lift_alerts.domain.inbound import Ignored, StatusUpdate, Tap
from lift_alerts.domain.inbound_parsing import NotAWebhookPayload, extract_updates, moment
from lift_alerts.flows.apply_updates import _ordering_key

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / name).read_text()))


def wrapper(**data: Any) -> dict[str, Any]:
    """The sample wrapper with `data` fields replaced (a value of None removes the field)."""
    body = deepcopy(sample("woosh_status_wrapper.json"))
    for key, value in data.items():
        if value is None:
            body["data"].pop(key, None)
        else:
            body["data"][key] = value
    return body


# -- the Bridge's status wrapper ---------------------------------------------------------------


def test_wrapper_sample_is_a_failed_status_with_its_first_error() -> None:
    assert extract_updates(sample("woosh_status_wrapper.json")) == [
        StatusUpdate(
            message_id="wamid.SENT0001",
            status="failed",
            at="2025-10-01T10:36:40Z",  # data.timestamp 1759315000, not event_ts
            error={"code": "131047", "title": "Re-engagement message"},
        )
    ]


def test_wrapper_takes_the_first_error_only() -> None:
    body = wrapper(errors=[{"code": 131026, "title": "Message undeliverable"}, {"code": 1, "title": "x"}])
    (update,) = extract_updates(body)
    assert isinstance(update, StatusUpdate)
    assert update.error == {"code": "131026", "title": "Message undeliverable"}


@pytest.mark.parametrize("status", ["sent", "delivered", "read"])
def test_wrapper_forward_statuses_carry_no_error(status: str) -> None:
    (update,) = extract_updates(wrapper(status=status, errors=None))
    assert update == StatusUpdate(message_id="wamid.SENT0001", status=status, at="2025-10-01T10:36:40Z")


def test_wrapper_message_id_is_data_id_else_top_level_wa_id() -> None:
    body = wrapper(id="wamid.FROMDATA")
    body["wa_id"] = "wamid.TOPLEVEL"
    (update,) = extract_updates(body)
    assert isinstance(update, StatusUpdate)
    assert update.message_id == "wamid.FROMDATA"
    (update,) = extract_updates(wrapper(id=None))
    assert isinstance(update, StatusUpdate)
    assert update.message_id == "wamid.SENT0001"  # the sample's top-level wa_id


def test_wrapper_without_data_timestamp_uses_event_ts() -> None:
    (update,) = extract_updates(wrapper(timestamp=None))
    assert isinstance(update, StatusUpdate)
    assert update.at == "2025-10-01T10:35:22Z"


def test_wrapper_failed_without_errors_is_still_a_failure() -> None:
    for errors in (None, [], "boom", [{"code": {"no": 1}}]):
        (update,) = extract_updates(wrapper(errors=errors))
        assert isinstance(update, StatusUpdate), errors
        assert update.status == "failed"
        assert update.error == {"code": "failed", "title": "delivery failed"}


def test_wrapper_odd_conversation_or_pricing_never_hide_the_status() -> None:
    (update,) = extract_updates(wrapper(conversation="?", pricing=["?"]))
    assert isinstance(update, StatusUpdate)
    assert update.error == {"code": "131047", "title": "Re-engagement message"}


@pytest.mark.parametrize("status", ["deleted", "played", "accepted", "warning", "exploded"])
def test_wrapper_other_statuses_are_ignored(status: str) -> None:
    assert extract_updates(wrapper(status=status, errors=None)) == [Ignored(reason=f"status:{status}")]


def test_wrapper_without_a_message_id_or_status_is_ignored_not_rejected() -> None:
    no_id = wrapper(id=None)
    del no_id["wa_id"]
    assert extract_updates(no_id) == [Ignored(reason="malformed_status")]
    assert extract_updates(wrapper(status=None)) == [Ignored(reason="malformed_status")]
    assert extract_updates(wrapper(status=3)) == [Ignored(reason="malformed_status")]


def test_other_bridge_events_are_accepted_and_ignored() -> None:
    body = {"type": "template.update", "tenant_id": "t", "data": {"name": "lift_alert"}}
    assert extract_updates(body) == [Ignored(reason="bridge:template.update")]


# -- the older simplified form ------------------------------------------------------------------


def test_older_simplified_form_is_still_a_status() -> None:
    assert extract_updates(sample("woosh_status_callback.json")) == [
        StatusUpdate(message_id="wamid.SENT0001", status="delivered", at="2025-01-15T10:30:00Z")
    ]
    failed = {"wa_id": "wamid.SENT0001", "to": "27824537125", "status": "failed", "timestamp": "1759315000"}
    assert extract_updates(failed) == [
        StatusUpdate(
            message_id="wamid.SENT0001",
            status="failed",
            at="2025-10-01T10:36:40Z",
            error={"code": "failed", "title": "delivery failed"},
        )
    ]
    assert extract_updates({"wa_id": "wamid.SENT0001", "status": "deleted"}) == [
        Ignored(reason="status:deleted")
    ]


# -- neither a Meta payload nor a Bridge one ----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "message.status"},  # no data, no status: not the wrapper
        {"type": "message.status", "data": "wamid.X"},
        {"data": {"id": "wamid.X", "status": "read"}},  # no type
        {"wa_id": "wamid.X"},
        {"status": "read"},
        {"type": 7, "data": {}},
        [],
        "message.status",
    ],
)
def test_neither_meta_nor_bridge_is_rejected(body: Any) -> None:
    with pytest.raises(NotAWebhookPayload):
        extract_updates(body)


# -- Meta's payload, same status as the wrapper --------------------------------------------------


def test_meta_and_wrapper_forms_of_one_status_parse_to_the_same_update() -> None:
    meta = sample("statuses_out_of_order.json")
    failed = [
        u
        for u in extract_updates(meta)
        if isinstance(u, StatusUpdate) and u.status == "failed"  # wamid.SENT0002, 131047
    ]
    (from_wrapper,) = extract_updates(wrapper(id="wamid.SENT0002"))
    assert len(failed) == 1
    assert isinstance(from_wrapper, StatusUpdate)
    assert (from_wrapper.message_id, from_wrapper.status, from_wrapper.error) == (
        failed[0].message_id,
        failed[0].status,
        failed[0].error,
    )


def test_meta_status_with_malformed_errors_is_still_a_failure() -> None:
    body = sample("statuses_out_of_order.json")
    statuses = body["entry"][0]["changes"][0]["value"]["statuses"]
    statuses[-1]["errors"] = "boom"
    (failed,) = [u for u in extract_updates(body) if isinstance(u, StatusUpdate) and u.status == "failed"]
    assert failed.error == {"code": "failed", "title": "delivery failed"}


# -- static-payload labels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "choice"),
    [
        ("Test", Choice.TEST),
        ("Maintenance", Choice.MAINTENANCE),
        ("Entrapment", Choice.ENTRAPMENT),
        ("test", Choice.TEST),
        ("MAINTENANCE", Choice.MAINTENANCE),
        ("  eNtRaPmEnT \t", Choice.ENTRAPMENT),
        ("\u00a0Test\n", Choice.TEST),
    ],
)
def test_parse_button_label_reads_the_three_labels_in_any_case(raw: str, choice: Choice) -> None:
    assert parse_button_label(raw) is choice


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "Tests", "Test!", "Te st", "Entrapped", "Fire", "1", "test maintenance",
     "la1:" + "a" * 32 + ":test", "Maintenance button"],
)  # fmt: skip
def test_parse_button_label_rejects_anything_else(raw: str | None) -> None:
    assert parse_button_label(raw) is None


def test_a_label_is_never_a_button_id_and_a_button_id_never_a_label() -> None:
    our_id = "la1:" + "0" * 32 + ":entrapment"
    assert parse_button_id("Entrapment") is None
    assert parse_button_label(our_id) is None
    assert parse_button_id(our_id) is not None


def test_static_payload_sample_is_a_tap_with_the_label_and_the_context() -> None:
    (tap,) = extract_updates(sample("tap_template_static_payload.json"))
    assert isinstance(tap, Tap)
    assert (tap.button_id, tap.button_title, tap.context_id) == ("Entrapment", "Entrapment", "wamid.SENT0001")
    assert parse_button_label(tap.button_id) is Choice.ENTRAPMENT


def _tap(tap_id: str, payload: str, context_id: str | None) -> Tap:
    return Tap(
        tap_id=tap_id,
        button_id=payload,
        button_title=payload,
        context_id=context_id,
        wa_id="27824537125",
        user_id=None,
        name=None,
        responded_at="2025-10-01T10:00:00Z",
    )


def test_label_taps_on_one_message_are_processed_in_order() -> None:
    # Same key = same group, processed one after another in arrival order (a changed answer).
    first, second = _tap("wamid.T1", "Test", "wamid.SENT1"), _tap("wamid.T2", " entrapment", "wamid.SENT1")
    assert _ordering_key(first) == _ordering_key(second)
    assert _ordering_key(first) != _ordering_key(_tap("wamid.T3", "Test", "wamid.SENT2"))
    # Without a context (unmatched anyway) or with an unknown payload, each tap on its own.
    assert _ordering_key(_tap("wamid.T4", "Test", None)) != _ordering_key(_tap("wamid.T5", "Test", None))


def test_a_whatsapp_timestamp_is_written_as_every_other_time() -> None:
    from datetime import UTC, datetime

    from lift_alerts.domain.timestamps import iso, iso_from_epoch

    for seconds in [0, 1, 1796693422, 2**31, 253_402_300_799]:
        expected = iso(datetime.fromtimestamp(seconds, UTC))
        assert iso_from_epoch(seconds) == expected
        assert moment(str(seconds)) == expected
        assert moment(seconds) == expected
        assert moment(f"000{seconds}") == expected
    assert moment("2026-12-08T01:30:22Z") == "2026-12-08T01:30:22Z"  # Woosh's own callback
    assert moment("2026-12-08T03:30:22+02:00") == "2026-12-08T01:30:22Z"
    # Past year 9999, or not a time at all: now, never an error.
    before = datetime.now(UTC).replace(microsecond=0)
    with pytest.raises(ValueError, match="out of range"):  # datetime's refusal, as before
        iso_from_epoch(253_402_300_800)
    for unusable in ["253402300800", "99999999999999999999", "soon", None]:
        assert moment(unusable) >= iso(before)
