"""The stand-in Woosh Bridge, over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from local.serving import BackgroundServer, PortInUseError
from local.woosh.limits import RateLimits
from local.woosh.templates import TemplateShape
from local.woosh_standin import WooshStandIn

API_KEY = "test-woosh-key"
SECRET = "test-webhook-secret"
TOKEN = "test-callback-token"
SIGNING = "test-signing-secret"
PHONE = "+27824537125"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


class WebhookReceiver:
    """Records every POST it gets: raw body and headers."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[bytes, Headers]] = []
        self.status = status
        self._lock = threading.Lock()
        self.server = BackgroundServer(self._app, name="webhook receiver")

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            # Headers, not a dict: header names are case-insensitive (X-Woosh-WAID arrives as X-Woosh-Waid).
            self.requests.append((request.get_data(), Headers(list(request.headers.items()))))
        return Response("ok", status=self.status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[bytes, Headers]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.requests) >= count, f"{len(self.requests)} webhook POSTs, {count} expected"
        return list(self.requests)

    def payloads(self) -> list[Any]:
        return [json.loads(raw) for raw, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def woosh(receiver: WebhookReceiver) -> Iterator[WooshStandIn]:
    standin = WooshStandIn(
        api_key=API_KEY, webhook_url=f"{receiver.server.base_url}/webhook", webhook_secret=SECRET
    ).start()
    yield standin
    standin.stop()


def interactive(
    to: str = PHONE, *, text: str = "Lift alarm", buttons: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    buttons = (
        buttons
        if buttons is not None
        else [("b:test", "Test"), ("b:maint", "Maintenance"), ("b:entr", "Entrapment")]
    )
    reply_buttons = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in buttons]
    content = {"type": "button", "body": {"text": text}, "action": {"buttons": reply_buttons}}
    return {"to": to, "type": "interactive", "interactive": content}


def template(to: str = PHONE) -> dict[str, Any]:
    return {
        "to": to,
        "type": "template",
        "template": {
            "name": "lift_alert",
            "language": {"code": "en"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "EMG-1"}]},
                *[
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": str(index),
                        "parameters": [{"type": "payload", "payload": f"p:{index}"}],
                    }
                    for index in (2, 0, 1)
                ],
            ],
        },
    }


def send(
    woosh: WooshStandIn, body: Any, *, key: str | None = API_KEY, timeout: float = 10
) -> requests.Response:
    headers = {"X-Api-Key": key} if key is not None else {}
    return requests.post(f"{woosh.base_url}/api/messages/send", json=body, headers=headers, timeout=timeout)


def test_accepts_an_interactive_message_and_records_it(woosh: WooshStandIn) -> None:
    response = send(woosh, interactive())

    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is True
    assert answer["accepted"] is True
    assert answer["to"] == "27824537125"
    assert answer["wa_id"].startswith("wamid.")
    [sent] = woosh.sent
    assert sent.message_id == answer["wa_id"]
    assert sent.to == "27824537125"
    assert sent.status_code == 200
    assert sent.body == interactive()
    assert sent.headers["X-Api-Key"] == API_KEY
    assert sent.buttons == [("b:test", "Test"), ("b:maint", "Maintenance"), ("b:entr", "Entrapment")]
    assert sent.text == "Lift alarm"


def test_message_ids_are_unique(woosh: WooshStandIn) -> None:
    ids = {send(woosh, interactive()).json()["wa_id"] for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_wrong_or_missing_api_key_is_401(woosh: WooshStandIn, key: str | None) -> None:
    response = send(woosh, interactive(), key=key)

    assert response.status_code == 401
    assert response.json()["ok"] is False
    assert response.json()["error"] == "invalid_api_key"
    assert response.json()["message"]
    [sent] = woosh.sent
    assert sent.message_id is None
    assert sent.status_code == 401


@pytest.mark.parametrize(
    ("body", "error", "status"),
    [
        (interactive(to="12345"), "invalid_phone", 400),
        (interactive(to="+1234567890123456"), "invalid_phone", 400),
        (interactive(to="27 82 453 7125"), "invalid_phone", 400),
        ({**interactive(), "to": 27824537125}, "invalid_phone", 400),
        (interactive(text="x" * 1025), "message_too_long", 400),
        (interactive(buttons=[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]), "unsupported_payload", 400),
        (interactive(buttons=[]), "unsupported_payload", 400),
        (interactive(buttons=[("a", "x" * 21)]), "unsupported_payload", 400),
        (interactive(buttons=[("a" * 257, "A")]), "unsupported_payload", 400),
        (interactive(buttons=[("a", "A"), ("a", "B")]), "unsupported_payload", 400),
        ({**interactive(), "type": "video"}, "unsupported_payload", 400),
        ({"to": PHONE, "text": "x" * 4097}, "message_too_long", 400),
        # Meta's text form is not the Bridge's (`{to, text}`, the text a string).
        ({"to": PHONE, "type": "text", "text": {"body": "hello"}}, "unsupported_payload", 400),
        ([1, 2, 3], "unsupported_payload", 400),
    ],
)
def test_validates_like_whatsapp(woosh: WooshStandIn, body: Any, error: str, status: int) -> None:
    response = send(woosh, body)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert woosh.sent[-1].message_id is None
    assert woosh.sent[-1].error == error


def test_limits_are_inclusive(woosh: WooshStandIn) -> None:
    body = interactive(to="12345678", text="x" * 1024, buttons=[("i" * 256, "t" * 20)])
    assert send(woosh, body).status_code == 200
    assert send(woosh, {"to": "123456789012345", "text": "x" * 4096}).status_code == 200


def test_template_buttons_are_recorded_by_index(woosh: WooshStandIn) -> None:
    response = send(woosh, template())

    assert response.status_code == 200
    [sent] = woosh.sent
    assert sent.buttons == [("p:0", "Test"), ("p:1", "Maintenance"), ("p:2", "Entrapment")]


def test_unknown_template_when_templates_are_configured() -> None:
    with WooshStandIn(api_key=API_KEY, templates={"other": ["Yes", "No"]}) as woosh:
        response = send(woosh, template())
    assert response.status_code == 400
    assert response.json()["error"] == "template_not_found"


def test_fail_next_for_one_recipient_only(woosh: WooshStandIn) -> None:
    woosh.fail_next("27831234567", error="invalid_phone")

    ok = send(woosh, interactive())
    failed = send(woosh, interactive(to="+27831234567"))
    again = send(woosh, interactive(to="27831234567"))

    assert ok.status_code == 200
    assert failed.status_code == 400
    assert failed.json() == {"ok": False, "error": "invalid_phone", "message": failed.json()["message"]}
    assert again.status_code == 200
    assert [m.status_code for m in woosh.sent] == [200, 400, 200]


def test_fail_next_times_and_retryable_codes(woosh: WooshStandIn) -> None:
    woosh.fail_next(error="rate_limited", times=2)

    statuses = [send(woosh, interactive()).status_code for _ in range(3)]

    assert statuses == [429, 429, 200]


def test_fail_next_raw_body(woosh: WooshStandIn) -> None:
    woosh.fail_next(raw_body="<html>Bad gateway</html>", status=502)

    response = send(woosh, interactive())

    assert response.status_code == 502
    assert response.text == "<html>Bad gateway</html>"
    assert woosh.sent[0].message_id is None


def test_fail_next_delay_makes_a_client_time_out(woosh: WooshStandIn) -> None:
    woosh.fail_next(delay=2.0, error=None)

    with pytest.raises(requests.Timeout):
        send(woosh, interactive(), timeout=0.3)
    # The slow send is still accepted once the delay is over, like a message already on its way.
    woosh.wait_for_sent(1, timeout=5)
    assert woosh.sent[0].accepted


def test_set_delay_applies_to_every_send(woosh: WooshStandIn) -> None:
    woosh.set_delay(0.3)
    started = time.monotonic()
    assert send(woosh, interactive()).status_code == 200
    assert time.monotonic() - started >= 0.3
    woosh.set_delay(0)
    started = time.monotonic()
    send(woosh, interactive())
    assert time.monotonic() - started < 0.3


def test_stop_does_not_wait_for_a_long_delay() -> None:
    woosh = WooshStandIn(api_key=API_KEY).start()
    woosh.set_delay(30)
    worker = threading.Thread(target=lambda: _swallow(lambda: send(woosh, interactive(), timeout=40)))
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    woosh.stop()
    worker.join(timeout=10)
    assert time.monotonic() - started < 5
    assert not worker.is_alive()


def _swallow(action: Any) -> None:
    with contextlib.suppress(requests.RequestException):
        action()


def _verify(raw: bytes, headers: Headers) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected


def test_tap_on_interactive_message_posts_a_signed_webhook(
    woosh: WooshStandIn, receiver: WebhookReceiver
) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]

    result = woosh.tap(message_id, 2, name="John Smith")

    assert result["status"] == 200
    assert result["body"] == "ok"
    [(raw, headers)] = receiver.requests
    _verify(raw, headers)
    payload = json.loads(raw)
    assert payload == result["payload"]
    assert payload["object"] == "whatsapp_business_account"
    value = payload["entry"][0]["changes"][0]["value"]
    assert payload["entry"][0]["changes"][0]["field"] == "messages"
    assert value["contacts"] == [{"profile": {"name": "John Smith"}, "wa_id": "27824537125"}]
    [message] = value["messages"]
    assert message["from"] == "27824537125"
    assert message["id"].startswith("wamid.TAP")
    assert message["timestamp"].isdigit()
    assert message["type"] == "interactive"
    assert message["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "b:entr", "title": "Entrapment"},
    }
    assert message["context"]["id"] == message_id


def test_tap_on_template_message_is_a_button_reply(woosh: WooshStandIn) -> None:
    message_id = send(woosh, template()).json()["wa_id"]

    payload = woosh.tap(message_id, 1, post=False)["payload"]

    [message] = payload["entry"][0]["changes"][0]["value"]["messages"]
    assert message["type"] == "button"
    assert message["button"] == {"payload": "p:1", "text": "Maintenance"}


def test_tap_variants(woosh: WooshStandIn) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]

    no_context = woosh.tap(message_id, 0, with_context=False, post=False)["payload"]
    user_id = woosh.tap(message_id, 0, user_id_only=True, from_="+27831234567", tap_id="wamid.T1", post=False)

    assert "context" not in no_context["entry"][0]["changes"][0]["value"]["messages"][0]
    value = user_id["payload"]["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["id"] == "wamid.T1"
    assert "from" not in value["messages"][0]
    assert value["messages"][0]["from_user_id"] == value["contacts"][0]["user_id"]
    assert "wa_id" not in value["contacts"][0]
    # tap ids are fresh each time
    taps = {
        woosh.tap(message_id, 0, post=False)["payload"]["entry"][0]["changes"][0]["value"]["messages"][0][
            "id"
        ]
        for _ in range(5)
    }
    assert len(taps) == 5


def test_tap_on_unknown_message_or_button(woosh: WooshStandIn) -> None:
    message_id = send(woosh, interactive(buttons=[("only", "Only")])).json()["wa_id"]
    with pytest.raises(KeyError):
        woosh.tap("wamid.NOPE", 0)
    with pytest.raises(IndexError):
        woosh.tap(message_id, 1)


def test_status_updates(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]

    woosh.status(message_id, "delivered")
    woosh.status(message_id, "failed", error_code=131047, error_title="Re-engagement message")

    assert len(receiver.requests) == 2
    for raw, headers in receiver.requests:
        _verify(raw, headers)
    delivered = json.loads(receiver.requests[0][0])["entry"][0]["changes"][0]["value"]["statuses"][0]
    failed = json.loads(receiver.requests[1][0])["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert delivered["id"] == message_id
    assert delivered["status"] == "delivered"
    assert delivered["recipient_id"] == "27824537125"
    assert delivered["timestamp"].isdigit()
    assert "errors" not in delivered
    assert failed["errors"][0]["code"] == 131047
    assert failed["errors"][0]["title"] == "Re-engagement message"


def test_woosh_status_callback(woosh: WooshStandIn) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]
    payload = woosh.woosh_status(message_id, "delivered", post=False)["payload"]
    assert payload["wa_id"] == message_id
    assert payload["to"] == "27824537125"
    assert payload["status"] == "delivered"
    assert "entry" not in payload


def test_post_webhook_unsigned_raw_and_other_secret(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    woosh.post_webhook(b"{not json", sign=False)
    woosh.post_webhook({"a": 1}, secret="other")

    raw, headers = receiver.requests[0]
    assert raw == b"{not json"
    assert "X-Hub-Signature-256" not in headers
    raw, headers = receiver.requests[1]
    assert headers["X-Hub-Signature-256"] == "sha256=" + hmac.new(b"other", raw, hashlib.sha256).hexdigest()


def test_control_endpoints_over_http(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    base = woosh.base_url
    message_id = send(woosh, interactive()).json()["wa_id"]

    sent = requests.get(f"{base}/_sent", timeout=5).json()
    assert [m["message_id"] for m in sent] == [message_id]
    assert sent[0]["buttons"][2] == ["b:entr", "Entrapment"]

    tap = requests.post(
        f"{base}/_tap", json={"message_id": message_id, "choice_index": 2, "name": "Ann"}, timeout=5
    )
    assert tap.status_code == 200
    assert tap.json()["status"] == 200
    assert tap.json()["payload"]["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] == "Ann"

    status = requests.post(f"{base}/_status", json={"message_id": message_id, "status": "read"}, timeout=5)
    assert status.status_code == 200
    assert len(receiver.requests) == 2

    assert (
        requests.post(
            f"{base}/_tap", json={"message_id": "wamid.NOPE", "choice_index": 0}, timeout=5
        ).status_code
        == 404
    )
    assert requests.post(f"{base}/_tap", json={"choice_index": 0}, timeout=5).status_code == 400
    assert requests.post(f"{base}/_tap", data=b"nope", timeout=5).status_code == 400

    assert (
        requests.post(f"{base}/_fail_next", json={"error": "server_error", "times": 1}, timeout=5).status_code
        == 200
    )
    assert send(woosh, interactive()).status_code == 500

    assert requests.post(f"{base}/_reset", timeout=5).status_code == 200
    assert requests.get(f"{base}/_sent", timeout=5).json() == []
    assert requests.get(f"{base}/_health", timeout=5).json() == {"ok": True}
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404


def test_parallel_sends_are_all_recorded(woosh: WooshStandIn) -> None:
    threads = [
        threading.Thread(target=send, args=(woosh, interactive(to=f"2782000{i:04d}"))) for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(woosh.sent) == 20
    assert len({m.message_id for m in woosh.sent}) == 20


def test_port_in_use_is_a_one_line_error(woosh: WooshStandIn) -> None:
    with pytest.raises(PortInUseError, match="already in use") as caught:
        WooshStandIn(api_key=API_KEY, port=woosh.port).start()
    assert "\n" not in str(caught.value)


# -- the real Bridge's behaviours (SPEC §5, §6, §8) ----------------------------------------------


@contextlib.contextmanager
def bridge(receiver: WebhookReceiver | None = None, **options: Any) -> Iterator[WooshStandIn]:
    """A stand-in with some of the real Bridge's behaviours switched on."""
    url = f"{receiver.server.base_url}/webhook" if receiver is not None else None
    with WooshStandIn(api_key=API_KEY, webhook_url=url, webhook_secret=SECRET, **options) as standin:
        yield standin


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def value_of(payload: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]
    return value


def hmac_hex(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# a. Authentication of what the stand-in posts


def test_with_a_callback_token_forwards_with_bearer_and_no_meta_signature(receiver: WebhookReceiver) -> None:
    with bridge(receiver, callback_token=TOKEN) as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        woosh.tap(message_id, 0)
        woosh.reply(PHONE, "On my way", context_id=message_id)
        woosh.status(message_id, "delivered")

    assert len(receiver.requests) == 3
    for _raw, headers in receiver.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"] == "node"
        assert "X-Hub-Signature-256" not in headers
        assert "X-Woosh-Signature" not in headers


def test_without_a_callback_token_signs_like_meta(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]
    woosh.reply(PHONE, "hello")
    woosh.status(message_id, "read", form="wrapper")

    for raw, headers in receiver.requests:
        assert headers["X-Hub-Signature-256"] == hmac_hex(SECRET, raw)
        assert "Authorization" not in headers
        assert headers["User-Agent"] == "node"


def test_signing_secret_adds_x_woosh_signature_to_status_dispatches_only(receiver: WebhookReceiver) -> None:
    with bridge(receiver, callback_token=TOKEN, signing_secret=SIGNING, status_form="both") as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        woosh.status(message_id, "delivered")
        woosh.tap(message_id, 1)

    (_, meta_headers), (wrapper_raw, wrapper_headers), (_, tap_headers) = receiver.requests
    assert wrapper_headers["X-Woosh-Signature"] == hmac_hex(SIGNING, wrapper_raw)
    assert wrapper_headers["Authorization"] == f"Bearer {TOKEN}"
    # Meta's own payloads are forwarded as they came: the dispatcher's signature is not on them.
    assert "X-Woosh-Signature" not in meta_headers
    assert "X-Woosh-Signature" not in tap_headers


def test_post_webhook_with_another_token(receiver: WebhookReceiver) -> None:
    with bridge(receiver, callback_token=TOKEN) as woosh:
        woosh.post_webhook({"a": 1}, token="wrong-token")
        woosh.post_webhook({"a": 1}, sign=False)

    assert receiver.requests[0][1]["Authorization"] == "Bearer wrong-token"
    assert "Authorization" not in receiver.requests[1][1]
    assert "X-Hub-Signature-256" not in receiver.requests[1][1]


# b. The Bridge's status wrapper


def test_status_wrapper_has_the_bridges_shape_and_headers(receiver: WebhookReceiver) -> None:
    with bridge(receiver, callback_token=TOKEN, status_form="wrapper", tenant_id="tenant-0001") as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        result = woosh.status(message_id, "failed", error_code=131047, timestamp=1759315000)

    [(raw, headers)] = receiver.requests
    wrapper = json.loads(raw)
    assert wrapper == result["payload"]
    expected = sample("woosh_status_wrapper.json")
    assert set(wrapper) == set(expected)
    assert set(wrapper["data"]) == set(expected["data"])
    assert wrapper["type"] == "message.status"
    assert wrapper["wa_id"] == message_id
    assert wrapper["tenant_id"] == "tenant-0001"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", wrapper["event_ts"])
    data = wrapper["data"]
    assert (data["id"], data["status"], data["timestamp"], data["recipient_id"]) == (
        message_id,
        "failed",
        "1759315000",
        "27824537125",
    )
    assert data["errors"] == expected["data"]["errors"]
    assert set(data["conversation"]) == set(expected["data"]["conversation"])
    assert set(data["pricing"]) == set(expected["data"]["pricing"])
    assert headers["X-Woosh-Event"] == "message.status"
    assert headers["X-Woosh-WAID"] == message_id
    assert headers["X-Woosh-Tenant"] == "tenant-0001"
    assert "entry" not in wrapper


def test_status_wrapper_without_errors_when_not_failed(receiver: WebhookReceiver) -> None:
    with bridge(receiver, status_form="wrapper") as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        payload = woosh.status(message_id, "delivered")["payload"]
    assert payload["data"]["status"] == "delivered"
    assert "errors" not in payload["data"]


def test_both_forms_send_the_same_status_twice_meta_first(receiver: WebhookReceiver) -> None:
    with bridge(receiver, status_form="both") as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        result = woosh.status(message_id, "read")

    meta, wrapper = receiver.payloads()
    [entry] = value_of(meta)["statuses"]
    assert wrapper["data"]["id"] == entry["id"] == message_id
    assert wrapper["data"]["status"] == entry["status"] == "read"
    assert wrapper["data"]["timestamp"] == entry["timestamp"]
    assert [d["payload"] for d in result["deliveries"]] == [meta, wrapper]
    assert [d.kind for d in woosh.dispatched] == ["status", "message.status"]


def test_status_form_per_call_and_over_http(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]

    woosh.status(message_id, "sent", form="wrapper")
    answer = requests.post(
        f"{woosh.base_url}/_status",
        json={"message_id": message_id, "status": "delivered", "form": "both"},
        timeout=5,
    )
    bad = requests.post(
        f"{woosh.base_url}/_status", json={"message_id": message_id, "status": "read", "form": "x"}, timeout=5
    )

    assert answer.status_code == 200
    assert len(answer.json()["deliveries"]) == 2
    assert bad.status_code == 400
    kinds = ["message.status" if "type" in p else "meta" for p in receiver.payloads()]
    assert kinds == ["message.status", "meta", "message.status"]


# c. WhatsApp's 24-hour window


def failed_statuses(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [s for p in receiver.payloads() if "entry" in p for s in value_of(p).get("statuses", [])]


def test_interactive_outside_the_window_is_accepted_then_fails_with_131047(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True, window_failure_delay=0.2) as woosh:
        answer = send(woosh, interactive())
        assert answer.status_code == 200
        assert answer.json()["ok"] is True
        message_id = answer.json()["wa_id"]
        assert receiver.requests == []  # not at once: WhatsApp fails it a moment later
        receiver.wait_for(1)
        stats = woosh.stats()

    [status] = failed_statuses(receiver)
    assert status["id"] == message_id
    assert status["status"] == "failed"
    assert status["recipient_id"] == "27824537125"
    assert status["errors"][0]["code"] == 131047
    assert status["errors"][0]["title"] == "Re-engagement message"
    assert woosh.message(message_id).fails_with == 131047
    assert stats["window_failures"] == 1


def test_text_outside_the_window_fails_in_the_wrapper_when_so_configured(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True, window_failure_delay=0.05, status_form="wrapper") as woosh:
        message_id = send(woosh, {"to": PHONE, "text": "Are you on site?"}).json()["wa_id"]
        [(_, headers)] = receiver.wait_for(1)

    [wrapper] = receiver.payloads()
    assert wrapper["data"]["id"] == message_id
    assert wrapper["data"]["errors"][0]["code"] == 131047
    assert headers["X-Woosh-WAID"] == message_id


def test_templates_are_delivered_outside_the_window(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True, window_failure_delay=0.05) as woosh:
        send(woosh, template())
        send(woosh, interactive())  # a marker: its failure comes after the template's would have
        receiver.wait_for(1)
        time.sleep(0.2)

    [status] = failed_statuses(receiver)
    assert status["id"] == woosh.sent[1].message_id
    assert woosh.sent[0].fails_with is None


def test_a_tap_or_a_reply_opens_the_window(receiver: WebhookReceiver) -> None:
    other = "+27831234567"
    with bridge(receiver, enforce_window=True, window_failure_delay=0.05) as woosh:
        woosh.tap(send(woosh, template()).json()["wa_id"], 0)
        woosh.reply(other, "hello")
        send(woosh, interactive())
        send(woosh, {"to": other, "text": "thanks"})
        time.sleep(0.3)

    assert failed_statuses(receiver) == []
    assert all(m.fails_with is None for m in woosh.sent)


def test_wrote_this_morning_and_wrote_yesterday(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True, window_failure_delay=0.05) as woosh:
        woosh.wrote(PHONE, seconds_ago=3600)
        woosh.wrote("27831234567", seconds_ago=25 * 3600)
        inside = send(woosh, interactive()).json()["wa_id"]
        outside = send(woosh, interactive(to="27831234567")).json()["wa_id"]
        receiver.wait_for(1)
        time.sleep(0.2)

    assert [s["id"] for s in failed_statuses(receiver)] == [outside]
    assert inside != outside


def test_wrote_over_http(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True) as woosh:
        base = woosh.base_url
        answer = requests.post(f"{base}/_wrote", json={"from": "27824537125", "seconds_ago": 3600}, timeout=5)
        old = requests.post(f"{base}/_wrote", json={"from": "27831234567", "seconds_ago": 90000}, timeout=5)
        missing = requests.post(f"{base}/_wrote", json={"seconds_ago": 1}, timeout=5)
        assert woosh.window_open(PHONE)

    assert answer.json() == {"ok": True, "window_open": True}
    assert old.json() == {"ok": True, "window_open": False}
    assert missing.status_code == 400


def test_window_failure_without_a_webhook_url_is_recorded() -> None:
    with bridge(None, enforce_window=True, window_failure_delay=0.05) as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        [dispatch] = woosh.wait_for_dispatched(1)
        over_http = requests.get(f"{woosh.base_url}/_dispatched", timeout=5).json()

    assert dispatch.posted is False
    assert dispatch.kind == "status"
    assert value_of(dispatch.payload)["statuses"][0]["id"] == message_id
    assert over_http[0]["payload"] == dispatch.payload


def test_window_is_not_enforced_by_default(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    assert woosh.enforce_window is False
    send(woosh, interactive())
    time.sleep(0.5)
    assert receiver.requests == []
    assert woosh.sent[0].fails_with is None


def test_the_default_failure_delay_is_a_moment(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True) as woosh:
        sent_at = time.monotonic()
        send(woosh, interactive())
        receiver.wait_for(1)
        took = time.monotonic() - sent_at
    assert 0.25 <= took < 3


def test_reset_cancels_pending_failures(receiver: WebhookReceiver) -> None:
    with bridge(receiver, enforce_window=True, window_failure_delay=0.3) as woosh:
        send(woosh, interactive())
        woosh.reset()
        time.sleep(0.6)
        assert woosh.dispatched == []
    assert receiver.requests == []


# d. Approved templates


LIFT_ALERT = TemplateShape(body_params=1, language="en")


def one_param_template(
    text: str = "Sandton Office Park, lift LIFT-A, floor 3", **overrides: Any
) -> dict[str, Any]:
    body = template()
    body["template"]["components"][0]["parameters"] = [{"type": "text", "text": text}]
    body["template"].update(overrides)
    return body


def test_template_parameter_count_mismatch_is_metas_132000_as_the_bridge_returns_it() -> None:
    body = template()
    body["template"]["components"][0]["parameters"] = [{"type": "text", "text": v} for v in ("a", "b")]
    with bridge(templates={"lift_alert": LIFT_ALERT}) as woosh:
        response = send(woosh, body)

    assert response.status_code == 502
    answer = response.json()
    expected = sample("woosh_send_error_meta.json")
    assert answer["ok"] is False
    assert answer["error"] == expected["error"]
    assert answer["code"] == 132000
    assert answer["detail"]["error"]["code"] == 132000
    assert set(expected["detail"]["error"]) <= set(answer["detail"]["error"])
    assert woosh.sent[0].error == "132000"
    assert woosh.sent[0].message_id is None


@pytest.mark.parametrize(
    ("language", "approved", "status", "meta_code"),
    [
        (None, "en", 502, 132001),
        (None, "en_US", 200, None),
        ("en", "en", 200, None),
        ("en_US", "en", 502, 132001),
    ],
)
def test_template_language(language: str | None, approved: str, status: int, meta_code: int | None) -> None:
    body = one_param_template()
    if language is None:
        del body["template"]["language"]
    else:
        body["template"]["language"] = {"code": language}
    with bridge(templates={"lift_alert": TemplateShape(body_params=1, language=approved)}) as woosh:
        response = send(woosh, body)
    assert response.status_code == status
    assert response.json().get("code") == meta_code


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("LIFT ALARM\nSandton", 502),
        ("LIFT ALARM\tSandton", 502),
        ("LIFT ALARM     Sandton", 502),
        ("LIFT ALARM    Sandton", 200),
        ("LIFT ALARM · Sandton · Lift A", 200),
    ],
)
def test_template_parameter_text_rules(text: str, status: int) -> None:
    with bridge(templates={"lift_alert": LIFT_ALERT}) as woosh:
        response = send(woosh, one_param_template(text))
    assert response.status_code == status
    if status == 502:
        assert response.json()["code"] == 132018
        assert response.json()["error"].startswith("(#132018)")


def test_unknown_template_with_shapes_is_template_not_found() -> None:
    with bridge(templates={"other_template": LIFT_ALERT}) as woosh:
        response = send(woosh, one_param_template())
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error": "template_not_found",
        "message": response.json()["message"],
    }


def test_static_payload_template_tap_carries_the_label(receiver: WebhookReceiver) -> None:
    shape = TemplateShape(body_params=1, static_payloads=True)
    with bridge(receiver, templates={"lift_alert": shape}) as woosh:
        message_id = send(woosh, one_param_template()).json()["wa_id"]
        woosh.tap(message_id, 2)

    [payload] = receiver.payloads()
    [message] = value_of(payload)["messages"]
    expected = value_of(sample("tap_template_static_payload.json"))["messages"][0]
    assert message["type"] == expected["type"] == "button"
    assert message["button"] == expected["button"] == {"payload": "Entrapment", "text": "Entrapment"}
    assert message["context"]["id"] == message_id


def test_dynamic_payload_template_tap_carries_the_payload_set_at_send_time() -> None:
    with bridge(templates={"lift_alert": LIFT_ALERT}) as woosh:
        message_id = send(woosh, one_param_template()).json()["wa_id"]
        payload = woosh.tap(message_id, 1, post=False)["payload"]
    assert value_of(payload)["messages"][0]["button"] == {"payload": "p:1", "text": "Maintenance"}


def test_without_shapes_any_template_is_accepted_as_before(woosh: WooshStandIn) -> None:
    body = one_param_template("two\nlines", name="anything_goes")
    assert send(woosh, body).status_code == 200


# e. Rate limits


def test_sends_over_the_minute_limit_are_429_rate_limited() -> None:
    with bridge(rate_limits=RateLimits(per_second=1000, per_minute=5)) as woosh:
        statuses = [send(woosh, interactive()).status_code for _ in range(5)]
        refused = send(woosh, interactive())
        stats = requests.get(f"{woosh.base_url}/_stats", timeout=5).json()
        count = woosh.rate_limited_count

    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.json() == {"ok": False, "error": "rate_limited", "message": "Rate limit exceeded"}
    assert int(refused.headers["Retry-After"]) >= 1
    assert count == 1
    assert stats["rate_limited"] == 1
    assert stats["accepted"] == 5


def test_sends_over_the_burst_limit_are_429_until_the_window_passes() -> None:
    with bridge(rate_limits=RateLimits(per_second=3, per_minute=1000, time_scale=0.5)) as woosh:
        first = [send(woosh, interactive()).status_code for _ in range(4)]
        time.sleep(0.6)
        later = send(woosh, interactive()).status_code
    assert first == [200, 200, 200, 429]
    assert later == 200


def test_rate_limits_true_is_woosh_documented_limits_and_off_by_default(woosh: WooshStandIn) -> None:
    assert WooshStandIn(api_key=API_KEY, rate_limits=True).rate_limits == RateLimits(10, 100, 1.0)
    assert woosh.rate_limits is None
    assert {send(woosh, interactive()).status_code for _ in range(15)} == {200}
    assert woosh.rate_limited_count == 0


def test_reset_forgets_rate_counts() -> None:
    with bridge(rate_limits=RateLimits(per_second=1000, per_minute=1)) as woosh:
        send(woosh, interactive())
        assert send(woosh, interactive()).status_code == 429
        requests.post(f"{woosh.base_url}/_reset", timeout=5)
        assert send(woosh, interactive()).status_code == 200
        assert woosh.rate_limited_count == 0


# f. Text replies and other inbound messages


def test_text_reply_is_forwarded_as_whatsapp_sends_it(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    message_id = send(woosh, interactive()).json()["wa_id"]

    result = woosh.reply("+27824537125", "On my way", context_id=message_id, name="John Smith")

    assert result["status"] == 200
    [payload] = receiver.payloads()
    expected = value_of(sample("reply_text_with_context.json"))
    value = value_of(payload)
    assert value["contacts"] == expected["contacts"]
    [message] = value["messages"]
    assert set(message) == set(expected["messages"][0])
    assert message["type"] == "text"
    assert message["text"] == {"body": "On my way"}
    assert message["context"] == {"from": "27123456789", "id": message_id}
    assert message["from"] == "27824537125"
    assert message["id"].startswith("wamid.")
    assert woosh.window_open(PHONE)


def test_reply_and_other_types_over_http(woosh: WooshStandIn, receiver: WebhookReceiver) -> None:
    base = woosh.base_url
    text = requests.post(f"{base}/_reply", json={"from": "27831234567", "text": "hi"}, timeout=5)
    image = requests.post(
        f"{base}/_reply",
        json={
            "from": "27841234567",
            "type": "image",
            "content": {"id": "media-1", "mime_type": "image/jpeg"},
        },
        timeout=5,
    )
    missing = requests.post(f"{base}/_reply", json={"from": "27831234567"}, timeout=5)

    assert text.status_code == image.status_code == 200
    assert missing.status_code == 400
    first, second = (value_of(p)["messages"][0] for p in receiver.payloads())
    assert "context" not in first
    assert first["text"] == {"body": "hi"}
    assert second["type"] == "image"
    assert second["image"] == {"id": "media-1", "mime_type": "image/jpeg"}
    assert woosh.window_open("27841234567")


# g. Control endpoints, records and the command line


def test_stats_and_dispatched_over_http(receiver: WebhookReceiver) -> None:
    with bridge(receiver, callback_token=TOKEN) as woosh:
        message_id = send(woosh, interactive()).json()["wa_id"]
        send(woosh, interactive(to="123"))
        woosh.tap(message_id, 0)
        stats = requests.get(f"{woosh.base_url}/_stats", timeout=5).json()
        dispatched = requests.get(f"{woosh.base_url}/_dispatched", timeout=5).json()

    assert stats == {"sent": 2, "accepted": 1, "rate_limited": 0, "dispatched": 1, "window_failures": 0}
    [tap] = dispatched
    assert tap["kind"] == "tap"
    assert tap["status_code"] == 200
    assert tap["headers"]["Authorization"] == "Bearer <redacted>"
    assert TOKEN not in json.dumps(dispatched)


def test_plain_text_send_in_woosh_form(woosh: WooshStandIn) -> None:
    response = send(woosh, {"to": PHONE, "text": "Hello from woosh-lifts!"})
    assert response.status_code == 200
    assert woosh.sent[0].kind == "text"
    assert woosh.sent[0].text == "Hello from woosh-lifts!"
    assert send(woosh, {"to": PHONE, "text": ""}).json()["error"] == "unsupported_payload"
