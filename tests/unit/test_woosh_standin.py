"""The stand-in Woosh Bridge, over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from local.serving import BackgroundServer, PortInUseError
from local.woosh_standin import WooshStandIn

API_KEY = "test-woosh-key"
SECRET = "test-webhook-secret"
PHONE = "+27824537125"


class WebhookReceiver:
    """Records every POST it gets: raw body and headers."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.status = status
        self._lock = threading.Lock()
        self.server = BackgroundServer(self._app, name="webhook receiver")

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests.append((request.get_data(), dict(request.headers.items())))
        return Response("ok", status=self.status)(environ, start_response)


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
    return {
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": text},
            "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in buttons]},
        },
    }


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
        ({"to": PHONE, "type": "text", "text": {"body": "x" * 4097}}, "message_too_long", 400),
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
    assert (
        send(woosh, {"to": "123456789012345", "type": "text", "text": {"body": "x" * 4096}}).status_code
        == 200
    )


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


def _verify(raw: bytes, headers: dict[str, str]) -> None:
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
