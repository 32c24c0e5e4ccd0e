"""Hostile and broken input for both APIs: a corpus, hypothesis properties, real-world bodies."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lift_alerts.domain.alert_request import AlertRequest
from lift_alerts.domain.inbound import Ignored, StatusUpdate, Tap
from lift_alerts.domain.inbound_parsing import NotAWebhookPayload, extract_updates
from lift_alerts.platform.observability import logger as service_logger
from local.woosh_standin import signature_header
from tests.robustness.support import SECRETS, count_items, response_events
from tests.support.harness import LOCAL_SECRET, http_event
from tests.support.samples import real_world_bodies
from tests.support.service import Service

pytestmark = pytest.mark.robustness

# A copy of /work/shared/samples/real-world (pywa's test data, MIT, see its LICENSE), so the
# suite runs from a fresh clone.
SAMPLES = Path(__file__).resolve().parent / "samples" / "real-world"
SECRET = LOCAL_SECRET["webhook_secret"]
PHONES = ["27824537125", "27831234567", "972987654321"]
FUZZED = {"inputs": 0}
FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _post_raw(service: Service, raw: bytes, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    # Bytes that are not UTF-8 reach the handler base64-encoded, as API Gateway sends them.
    all_headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature_header(raw, SECRET)}
    all_headers.update(headers or {})
    return service.call("webhook", http_event("POST", "/webhook", body=raw, headers=all_headers, **kw))


def _formatted_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as the service's own JSON formatter writes it (with extras)."""
    formatter = service_logger.registered_formatter
    # The service's own records, and anything WARNING or worse from libraries (Lambda's level).
    records = [r for r in caplog.records if r.name == "lift-alerts" or r.levelno >= logging.WARNING]
    return "\n".join(formatter.format(record) for record in records)


def _assert_clean(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    text = _formatted_logs(caplog) + capsys.readouterr().out
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked into a log line"
    for phone in PHONES:
        assert phone not in text, f"full phone number {phone} in a log line"


def _tap_body(message_id: str, button_id: str, tap_id: str = "wamid.HOSTILE1") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "contacts": [{"wa_id": "27824537125", "profile": {"name": "Eve"}}],
                            "messages": [
                                {
                                    "id": tap_id,
                                    "from": "27824537125",
                                    "timestamp": "1700000000",
                                    "type": "interactive",
                                    "context": {"id": message_id},
                                    "interactive": {
                                        "type": "button_reply",
                                        "button_reply": {"id": button_id, "title": "Entrapment"},
                                    },
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


# -- the webhook corpus --------------------------------------------------------------------------

DEEP = b"[" * 50_000 + b"]" * 50_000
WEBHOOK_CORPUS: dict[str, bytes] = {
    "empty": b"",
    "blank": b"   \n",
    "truncated": b'{"entry": [',
    "null": b"null",
    "list": b"[]",
    "string": b'"entry"',
    "number": b"12345",
    "entry-null": b'{"entry": null}',
    "entry-string": b'{"entry": "x"}',
    "entry-of-nulls": b'{"entry": [null, 1, "x", []]}',
    "changes-null": b'{"entry": [{"changes": null}]}',
    "changes-of-junk": b'{"entry": [{"changes": [null, 1, {"field": null}, {"field": "messages"}]}]}',
    "value-types": b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": "x", '
    b'"statuses": {"a": 1}, "contacts": 7}}]}]}',
    "message-types": b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": '
    b'[{"id": 1, "type": "interactive", "interactive": {"type": "button_reply", "button_reply": '
    b'{"id": ["x"], "title": {"a": 1}}}, "context": "nope", "timestamp": [1]}]}}]}]}',
    "status-types": b'{"entry": [{"changes": [{"field": "messages", "value": {"statuses": '
    b'[{"id": "wamid.X", "status": "failed", "errors": "boom"}, {"id": "wamid.Y", "status": 3},'
    b' {"id": "wamid.Z", "status": "exploded"}]}}]}]}',
    "woosh-callback-types": b'{"wa_id": ["x"], "status": {"y": 1}}',
    "huge-string": json.dumps({"entry": [{"changes": [{"field": "x" * 2_000_000}]}]}).encode(),
    "deep-nesting": DEEP,
    "deep-in-entry": b'{"entry": ' + DEEP + b"}",
    "not-utf8": b'\xff\xfe{"entry": []}',
    "latin1-in-string": b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": '
    b'[{"id": "wamid.\xe9", "type": "button", "button": {"payload": "\xff", "text": "\xc3"}}]}}]}]}',
    "lone-surrogates": json.dumps(_tap_body("\ud800", "la1:\udfff", "wamid.\ud83d")).encode(),
    "nul-and-controls": json.dumps(_tap_body("wamid.\x00", "la1:\x07", "wamid.\x1b[31m")).encode(),
    "unknown-fields": json.dumps(
        {"object": "x", "entry": [{"changes": [{"field": "messages", "value": {"zzz": 1}}], "q": [1]}]}
    ).encode(),
    "number-overflow": b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": '
    b'[{"id": "wamid.T", "timestamp": 1e999, "type": "button", "button": {"payload": "p"}}]}}]}]}',
    "bom": b'\xef\xbb\xbf{"entry": []}',
    "nan": b'{"entry": [NaN, Infinity]}',
}


@pytest.mark.parametrize("name", sorted(WEBHOOK_CORPUS))
def test_webhook_corpus_never_5xx_and_writes_nothing(
    service: Service, name: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="lift-alerts")
    sent = service.send_alert(["+27824537125"])
    service.publish()
    before = count_items(service)
    raw = WEBHOOK_CORPUS[name]
    result = _post_raw(service, raw)
    FUZZED["inputs"] += 1
    assert result.status in (200, 400), (name, result.status, result.text)
    assert count_items(service) - before <= 3  # only msg# status upserts for ids nobody sent
    assert service.stored_alert(sent["alert_id"])["responses"] == []
    assert response_events(service) == []
    _assert_clean(caplog, capsys)


@pytest.mark.parametrize(
    ("name", "headers", "kwargs"),
    [
        ("text/plain", {"Content-Type": "text/plain"}, {}),
        ("no content type", {"Content-Type": ""}, {}),
        ("form", {"Content-Type": "application/x-www-form-urlencoded"}, {}),
        ("upper-case header", {"X-HUB-SIGNATURE-256": None}, {}),
        ("base64 body", {}, {"base64_body": True}),
    ],
)
def test_webhook_transport_variants_are_accepted(
    service: Service, name: str, headers: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    raw = json.dumps(service.woosh.tap(message_id, 2, post=False)["payload"]).encode()
    merged = {k: (signature_header(raw, SECRET) if v is None else v) for k, v in headers.items()}
    result = _post_raw(service, raw, merged, **kwargs)
    FUZZED["inputs"] += 1
    assert result.status == 200, (name, result.text)
    assert result.json()["outcomes"] == {"tap_matched_context": 1}


def test_webhook_invalid_base64_is_400(service: Service) -> None:
    event = http_event("POST", "/webhook", body=b"{}", headers={"X-Hub-Signature-256": "sha256=00"})
    event["isBase64Encoded"] = True
    event["body"] = "%%% not base64 %%%"
    result = service.call("webhook", event)
    assert result.status in (400, 401)


def test_webhook_over_5_mib_is_413_and_writes_nothing(service: Service) -> None:
    before = count_items(service)
    raw = json.dumps({"entry": [], "pad": "x" * (5 * 1024 * 1024)}).encode()
    assert _post_raw(service, raw).status == 413
    assert _post_raw(service, raw, {"X-Hub-Signature-256": "sha256=00"}).status in (401, 413)
    assert count_items(service) == before


def test_forged_and_replayed_signatures_are_401_and_write_nothing(
    service: Service, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="lift-alerts")
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    raw = json.dumps(service.woosh.tap(message_id, 2, post=False)["payload"]).encode()
    other = json.dumps(service.woosh.tap(message_id, 0, post=False)["payload"]).encode()
    good = signature_header(raw, SECRET)
    forged = [
        None,
        "",
        "sha256=",
        "sha256",
        good.replace("sha256=", "sha1="),
        good.removeprefix("sha256="),
        signature_header(raw, "wrong-secret"),
        signature_header(raw, SECRET.upper()),
        signature_header(other, SECRET),  # a real signature replayed onto another body
        good[:-1] + ("0" if good[-1] != "0" else "1"),
        good + "00",
        "sha256=" + "é" * 64,
        "sha256=" + "\x00" * 64,
        good + ", " + good,
    ]
    before = count_items(service)
    for header in forged:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["X-Hub-Signature-256"] = header
        result = service.call("webhook", http_event("POST", "/webhook", body=raw, headers=headers))
        FUZZED["inputs"] += 1
        assert result.status == 401, header
    assert count_items(service) == before
    assert service.stored_alert(sent["alert_id"])["responses"] == []
    # The genuine one, replayed: processed once.
    assert _post_raw(service, raw).json()["outcomes"] == {"tap_matched_context": 1}
    for _ in range(5):
        assert _post_raw(service, raw).json()["outcomes"] == {"tap_duplicate": 1}
    assert len(response_events(service)) == 1
    _assert_clean(caplog, capsys)


def test_handshake_never_leaks_and_refuses_wrong_tokens(
    service: Service, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="lift-alerts")
    cases = [
        ({"hub.mode": "subscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "c1"}, 200),
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "c1"}, 403),
        ({"hub.mode": "subscribe", "hub.verify_token": "test-verify-token\x00", "hub.challenge": "c"}, 403),
        ({"hub.mode": "subscribe", "hub.verify_token": "é" * 1000, "hub.challenge": "c"}, 403),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "c"}, 403),
        ({}, 403),
    ]
    for query, expected in cases:
        result = service.call("webhook", http_event("GET", "/webhook", query=query))
        assert result.status == expected
    _assert_clean(caplog, capsys)


# -- the send API corpus ---------------------------------------------------------------------

GOOD = {"ticket_id": "EMG-1", "lift_id": "LIFT-A", "recipients": ["+27824537125"]}
SEND_CORPUS: dict[str, Any] = {
    "empty": b"",
    "not-json": b"{ticket_id: 1}",
    "null": b"null",
    "list": b"[]",
    "string": b'"x"',
    "not-utf8": b'{"ticket_id": "\xff", "lift_id": "L", "recipients": ["+27824537125"]}',
    "lone-surrogate": b'{"ticket_id": "\\ud800", "lift_id": "L", "recipients": ["+27824537125"]}',
    "deep": b'{"ticket_id": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    "missing-all": {},
    "nulls": {"ticket_id": None, "lift_id": None, "recipients": None},
    "wrong-types": {"ticket_id": ["a"], "lift_id": {"b": 1}, "recipients": "27824537125"},
    "bool-ids": {"ticket_id": True, "lift_id": False, "recipients": ["+27824537125"]},
    "recipient-types": {**GOOD, "recipients": [27824537125, None, {"to": "x"}]},
    "recipient-bad": {**GOOD, "recipients": ["+27824537125", "12", "+2782453712599999999", "abc"]},
    "recipients-empty": {**GOOD, "recipients": []},
    "recipients-many": {**GOOD, "recipients": [f"+2782{i:07d}" for i in range(51)]},
    "huge-note": {**GOOD, "note": "n" * 60_000},
    "controls": {**GOOD, "site": "a\x00b", "lift_id": "L\x1b[31m"},
    "long-ids": {**GOOD, "ticket_id": "t" * 65},
    "escalation-types": {**GOOD, "escalation": {"after_seconds": "10", "max_rounds": -1}},
    "escalation-null-recips": {**GOOD, "escalation": {"recipients": [None]}},
    "over-64-kib": json.dumps({**GOOD, "pad": "p" * (64 * 1024)}).encode(),
}


@pytest.mark.parametrize("name", sorted(SEND_CORPUS))
def test_send_corpus_is_refused_and_sends_nothing(
    service: Service, name: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="lift-alerts")
    body = SEND_CORPUS[name]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    for headers in (
        {"Content-Type": "application/json"},
        {"Content-Type": "text/plain", "Idempotency-Key": "h"},
    ):
        event = http_event("POST", "/alerts", body=raw, headers=headers)
        result = service.call("send", event)
        FUZZED["inputs"] += 1
        expected = 413 if name == "over-64-kib" else 400
        assert result.status == expected, (name, result.status, result.text)
        if expected == 400 and result.text:
            assert isinstance(result.json(), dict)
    assert service.woosh.sent == []
    assert count_items(service) == 0
    _assert_clean(caplog, capsys)


def test_unknown_fields_are_ignored_and_phones_not_logged(
    service: Service, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="lift-alerts")
    body = {**GOOD, "recipients": ["+27824537125", "27831234567"], "zzz": {"a": [1]}, "api_key": "x"}
    result = service.post_alert(body)
    assert result.status == 201
    message_id = result.json()["messages"][0]["message_id"]
    service.tap(message_id, 2)
    service.status(message_id, "failed")
    service.publish()
    _assert_clean(caplog, capsys)


# -- hypothesis: the parser, the send validation, the webhook end to end ---------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    ["entry", "changes", "field", "value", "messages", "statuses", "contacts", "id", "type", "interactive",
     "button_reply", "button", "payload", "text", "title", "context", "from", "timestamp", "status", "errors",
     "code", "wa_id", "profile", "name", "recipient_id", "from_user_id", "user_id"]
)  # fmt: skip
SHAPED = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(
        ["messages", "interactive", "button_reply", "button", "failed", "read", "la1:" + "a" * 32 + ":test"]
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(payload=st.one_of(JSON, SHAPED, st.builds(lambda e: {"entry": e}, SHAPED)))
def test_extract_updates_never_raises_anything_else(payload: Any) -> None:
    FUZZED["inputs"] += 1
    try:
        updates = extract_updates(payload)
    except NotAWebhookPayload:
        return
    for update in updates:
        assert isinstance(update, Tap | StatusUpdate | Ignored)
        if isinstance(update, Tap):
            assert update.tap_id
            update.model_dump_json()  # parkable
        if isinstance(update, StatusUpdate):
            assert update.status in ("sent", "delivered", "read", "failed")


PHONE = st.from_regex(r"\+?[0-9]{6,17}", fullmatch=True)
FIELD = st.one_of(
    st.none(), st.integers(), st.booleans(), st.text(max_size=80), st.lists(st.text(max_size=5))
)


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "ticket_id": FIELD,
            "lift_id": FIELD,
            "site": FIELD,
            "floor": FIELD,
            "note": st.one_of(FIELD, st.text(max_size=1200)),
            "recipients": st.one_of(st.lists(st.one_of(PHONE, FIELD), max_size=6), FIELD),
            "escalation": st.one_of(FIELD, st.dictionaries(st.sampled_from(["after_seconds", "max_rounds",
                                                                           "recipients"]), JSON)),
        },
    )
)  # fmt: skip
def test_alert_request_validation_is_total(body: dict[str, Any]) -> None:
    FUZZED["inputs"] += 1
    try:
        request = AlertRequest.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            assert error["loc"] is not None
        return
    assert 1 <= len(request.recipients) <= 50
    assert len(set(request.recipients)) == len(request.recipients)
    assert all(r.isdigit() and 8 <= len(r) <= 15 for r in request.recipients)
    for text in (request.ticket_id, request.lift_id, request.site, request.floor, request.note):
        text.encode("utf-8")


@settings(FUZZ, max_examples=60)
@given(
    payload=st.one_of(SHAPED, st.builds(lambda e: {"entry": e}, SHAPED)),
    encode=st.sampled_from(["json", "bytes-junk", "base64"]),
)
def test_webhook_end_to_end_never_5xx(service: Service, payload: Any, encode: str) -> None:
    FUZZED["inputs"] += 1
    raw = json.dumps(payload).encode()
    kwargs: dict[str, Any] = {}
    if encode == "bytes-junk":
        raw = raw[: len(raw) // 2] + b"\xff\xc3" + raw[len(raw) // 2 :]
    if encode == "base64":
        kwargs["base64_body"] = True
    result = _post_raw(service, raw, **kwargs)
    assert result.status in (200, 400), result.text
    if result.status == 400:
        assert json.loads(result.text)["message"]


# -- 7. real-world bodies --------------------------------------------------------------------------


def test_every_real_world_body_is_accepted_and_publishes_nothing(
    service: Service, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="lift-alerts")
    sent = service.send_alert(["+27824537125"])
    service.publish()
    samples = real_world_bodies()
    assert len(samples) >= 70
    for name, body in samples:
        result = _post_raw(service, json.dumps(body).encode())
        FUZZED["inputs"] += 1
        assert result.status == 200, (name, result.text)
        outcomes = result.json()["outcomes"]
        assert not any(k.startswith("tap_matched") for k in outcomes), (name, outcomes)
    assert response_events(service) == []
    assert service.details("Alert Delivery Failed") == []
    assert service.stored_alert(sent["alert_id"])["responses"] == []
    text = _formatted_logs(caplog) + capsys.readouterr().out
    for secret in SECRETS:
        assert secret not in text


def _buttonreal_world_bodies() -> list[tuple[str, dict[str, Any]]]:
    picked = []
    for name, body in real_world_bodies():
        for entry in body.get("entry", []):
            for change in entry.get("changes", []):
                for message in change.get("value", {}).get("messages", []):
                    reply = (message.get("interactive") or {}).get("button_reply")
                    if reply is not None or message.get("type") == "button":
                        picked.append((name, body))
    return picked


def test_real_world_button_replies_rewritten_to_ours_match(service: Service) -> None:
    samples = _buttonreal_world_bodies()
    assert len(samples) >= 2
    template_kinds = 0
    for n, (name, original) in enumerate(samples):
        sent = service.send_alert(["+27824537125"])
        message_id = sent["messages"][0]["message_id"]
        our_button = service.woosh.message(message_id).buttons[2][0]
        body = json.loads(json.dumps(original))
        message = body["entry"][0]["changes"][0]["value"]["messages"][0]
        message["id"] = f"wamid.REAL{n}"
        has_context = "context" in message
        if has_context:
            message["context"]["id"] = message_id
        if message.get("type") == "button":
            template_kinds += 1
            message["button"]["payload"] = our_button
        else:
            message["interactive"]["button_reply"]["id"] = our_button
        result = _post_raw(service, json.dumps(body).encode())
        expected = "tap_matched_context" if has_context else "tap_matched_button"
        assert result.json()["outcomes"] == {expected: 1}, (name, result.text)
        (response,) = service.stored_alert(sent["alert_id"])["responses"]
        assert response["choice"] == "entrapment"
        assert response["event_id"] == f"wamid.REAL{n}"
    assert template_kinds >= 1
    ids = sorted(e["event_id"] for e in response_events(service))
    assert ids == sorted(f"wamid.REAL{n}" for n in range(len(samples)))


def test_inputs_fuzzed() -> None:
    print(f"inputs fuzzed in test_hostile: {FUZZED['inputs']}")
