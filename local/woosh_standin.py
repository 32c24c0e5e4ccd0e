"""A stand-in Woosh Bridge on loopback: records sends, answers like the real one, simulates taps.

Send API (as Woosh documents it): `POST /api/messages/send` with `X-Api-Key`; interactive
button messages, templates with quick-reply buttons and plain text, validated against
WhatsApp's limits; `200 {"ok": true, "wa_id": "wamid.…", "to": "…", "accepted": true}` or
`{"ok": false, "error": "<code>", "message": "…"}` with Woosh's status codes.

Simulation: `tap()` and `status()` build the WhatsApp webhook payload (Meta's format, as
Woosh forwards it) for a recorded send, sign the raw body with the webhook secret and POST
it to the webhook URL. `fail_next()` and `set_delay()` program faults. The same controls
are served over HTTP for other processes: `GET /_sent`, `POST /_tap`, `POST /_status`,
`POST /_woosh_status`, `POST /_fail_next`, `POST /_delay`, `POST /_reset`, `GET /_health`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.serving import LOOPBACK, BackgroundServer

SEND_PATH = "/api/messages/send"
BUSINESS_NUMBER = "27123456789"
PHONE_NUMBER_ID = "753321277868753"
WABA_ID = "102290129340398"
DEFAULT_TEMPLATE_BUTTON_TEXTS = ("Test", "Maintenance", "Entrapment")

ERROR_STATUS = {
    "invalid_api_key": 401,
    "invalid_phone": 400,
    "message_too_long": 400,
    "template_not_found": 400,
    "unsupported_payload": 400,
    "rate_limited": 429,
    "server_error": 500,
}
ERROR_MESSAGE = {
    "invalid_api_key": "Invalid or missing API key",
    "invalid_phone": "The phone number is not a valid WhatsApp number",
    "message_too_long": "The message is too long",
    "template_not_found": "Template not found",
    "unsupported_payload": "Unsupported message payload",
    "rate_limited": "Rate limit exceeded",
    "server_error": "Internal server error",
}
DEFAULT_FAILED_STATUS_ERROR = (131026, "Message undeliverable")

_PHONE = re.compile(r"\+?(\d{8,15})")
_MAX_INTERACTIVE_BODY = 1024
_MAX_TEXT_BODY = 4096
_MAX_BUTTONS = 3
_MAX_TITLE = 20
_MAX_BUTTON_ID = 256
_MAX_HEADER_FOOTER = 60
_MAX_CONTROL_DELAY = 120.0


@dataclass(frozen=True)
class SentMessage:
    """One request to the send endpoint, accepted or not, as received."""

    to: str
    body: dict[str, Any]
    headers: dict[str, str]
    message_id: str | None
    status_code: int
    buttons: list[tuple[str, str]]
    error: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def accepted(self) -> bool:
        return self.message_id is not None

    @property
    def kind(self) -> str | None:
        """`interactive`, `template` or `text` (also for Woosh's `{to, text}` form without a type)."""
        value = self.body.get("type")
        if value is None and "text" in self.body:
            return "text"
        return value if isinstance(value, str) else None

    @property
    def text(self) -> str | None:
        """The body text of an interactive or text message (None for templates)."""
        if self.kind == "interactive":
            return _dig(self.body, "interactive", "body", "text")
        if self.kind == "text":
            return _text_of(self.body)
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "body": self.body,
            "headers": self.headers,
            "message_id": self.message_id,
            "status_code": self.status_code,
            "buttons": [list(button) for button in self.buttons],
            "error": self.error,
            "received_at": self.received_at,
        }


@dataclass
class _Fault:
    to: str | None
    error: str | None
    status: int
    remaining: int
    delay: float
    raw_body: str | None


class _Rejected(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or ERROR_MESSAGE.get(code, code)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _digits(value: str) -> str:
    return value[1:] if value.startswith("+") else value


def signature_header(raw: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` header value for `raw`."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _validate_to(body: dict[str, Any]) -> str:
    to = body.get("to")
    if not isinstance(to, str) or not _PHONE.fullmatch(to):
        raise _Rejected("invalid_phone", "'to' must be a phone number with 8 to 15 digits")
    return _digits(to)


def _validate_interactive(body: dict[str, Any]) -> list[tuple[str, str]]:
    interactive = body.get("interactive")
    if not isinstance(interactive, dict) or interactive.get("type") != "button":
        raise _Rejected("unsupported_payload", "only interactive messages of type 'button' are supported")
    text = _dig(interactive, "body", "text")
    if not isinstance(text, str) or not text:
        raise _Rejected("unsupported_payload", "interactive.body.text is required")
    if len(text) > _MAX_INTERACTIVE_BODY:
        raise _Rejected("message_too_long", f"interactive body is over {_MAX_INTERACTIVE_BODY} characters")
    for part in ("header", "footer"):
        part_text = _dig(interactive, part, "text")
        if part_text is not None and (not isinstance(part_text, str) or len(part_text) > _MAX_HEADER_FOOTER):
            raise _Rejected("message_too_long", f"interactive {part} is over {_MAX_HEADER_FOOTER} characters")
    buttons = _dig(interactive, "action", "buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= _MAX_BUTTONS:
        raise _Rejected("unsupported_payload", f"an interactive message needs 1 to {_MAX_BUTTONS} buttons")
    result: list[tuple[str, str]] = []
    for button in buttons:
        reply = _dig(button, "reply")
        button_id, title = _dig(reply, "id"), _dig(reply, "title")
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise _Rejected("unsupported_payload", "buttons must be of type 'reply'")
        if not isinstance(button_id, str) or not 1 <= len(button_id) <= _MAX_BUTTON_ID:
            raise _Rejected("unsupported_payload", f"button id must have 1 to {_MAX_BUTTON_ID} characters")
        if not isinstance(title, str) or not 1 <= len(title) <= _MAX_TITLE:
            raise _Rejected("unsupported_payload", f"button title must have 1 to {_MAX_TITLE} characters")
        result.append((button_id, title))
    if len({button_id for button_id, _ in result}) != len(result):
        raise _Rejected("unsupported_payload", "button ids must be unique within a message")
    return result


def _text_of(body: dict[str, Any]) -> Any:
    """The text of a text send in either accepted form: Woosh's `{to, text}` or Meta's `text.body`."""
    text = body.get("text")
    return text.get("body") if isinstance(text, dict) else text


def _validate_text(body: dict[str, Any]) -> list[tuple[str, str]]:
    text = _text_of(body)
    if not isinstance(text, str) or not text:
        raise _Rejected("unsupported_payload", "text (or text.body) is required")
    if len(text) > _MAX_TEXT_BODY:
        raise _Rejected("message_too_long", f"text is over {_MAX_TEXT_BODY} characters")
    return []


class WooshStandIn:
    """A Woosh Bridge on 127.0.0.1 for tests and the local stack. Thread-safe."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        templates: dict[str, Sequence[str]] | None = None,
        template_button_texts: Sequence[str] = DEFAULT_TEMPLATE_BUTTON_TEXTS,
    ) -> None:
        """`templates` maps approved template names to their quick-reply button texts (by
        index); when None any template name is accepted with `template_button_texts`."""
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self._templates = {name: tuple(texts) for name, texts in templates.items()} if templates else None
        self._default_texts = tuple(template_button_texts)
        self._lock = threading.Lock()
        self._sent: list[SentMessage] = []
        self._faults: list[_Fault] = []
        self._delay = 0.0
        self._stopping = threading.Event()
        self._tap_counter = itertools.count(1)
        self._session = requests.Session()
        self._server = BackgroundServer(self._wsgi, name="woosh stand-in", host=host, port=port)
        self._routes = Map(
            [
                Rule(SEND_PATH, endpoint="send", methods=["POST"]),
                Rule("/_sent", endpoint="control_sent", methods=["GET"]),
                Rule("/_tap", endpoint="control_tap", methods=["POST"]),
                Rule("/_status", endpoint="control_status", methods=["POST"]),
                Rule("/_woosh_status", endpoint="control_woosh_status", methods=["POST"]),
                Rule("/_fail_next", endpoint="control_fail_next", methods=["POST"]),
                Rule("/_delay", endpoint="control_delay", methods=["POST"]),
                Rule("/_reset", endpoint="control_reset", methods=["POST"]),
                Rule("/_health", endpoint="control_health", methods=["GET"]),
            ]
        )

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> WooshStandIn:
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes sends that are sleeping on a programmed delay
        self._server.stop()
        self._session.close()

    def __enter__(self) -> WooshStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def port(self) -> int:
        return self._server.port

    # -- records and faults --------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """A snapshot of every send received, oldest first."""
        with self._lock:
            return list(self._sent)

    def accepted(self, to: str | None = None) -> list[SentMessage]:
        wanted = _digits(to) if to else None
        return [m for m in self.sent if m.accepted and (wanted is None or m.to == wanted)]

    def message(self, message_id: str) -> SentMessage:
        for message in self.sent:
            if message.message_id == message_id:
                return message
        raise KeyError(f"no accepted send with message id {message_id!r}")

    def wait_for_sent(self, count: int, *, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until at least `count` sends were received; returns them (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.sent
            if len(snapshot) >= count:
                return snapshot
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(snapshot)} sends received, {count} expected")
            time.sleep(0.02)

    def fail_next(
        self,
        to: str | None = None,
        *,
        error: str | None = "server_error",
        status: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        raw_body: str | None = None,
    ) -> None:
        """Make the next `times` sends (to `to`, or any recipient) fail.

        `error` is a Woosh error code answered with its usual status (or `status`); `raw_body`
        answers that text instead of JSON; `delay` waits first (a client timeout). With
        `error=None` and no `raw_body` the send is accepted normally after the delay.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        code = status if status is not None else ERROR_STATUS.get(error or "", 200 if error is None else 500)
        fault = _Fault(_digits(to) if to else None, error, code, times, max(0.0, delay), raw_body)
        with self._lock:
            self._faults.append(fault)

    def set_delay(self, seconds: float) -> None:
        """Every send waits this long before answering (0 to stop)."""
        with self._lock:
            self._delay = max(0.0, seconds)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._faults.clear()
            self._delay = 0.0

    # -- simulated webhooks --------------------------------------------------------------------

    def tap(
        self,
        message_id: str,
        choice_index: int,
        *,
        from_: str | None = None,
        name: str = "Test User",
        with_context: bool = True,
        tap_id: str | None = None,
        user_id_only: bool = False,
        timestamp: int | None = None,
        post: bool = True,
    ) -> dict[str, Any]:
        """A tap on button `choice_index` of a recorded send, as WhatsApp reports it."""
        sent = self.message(message_id)
        if not 0 <= choice_index < len(sent.buttons):
            raise IndexError(f"message {message_id} has {len(sent.buttons)} buttons, no index {choice_index}")
        key, label = sent.buttons[choice_index]
        sender = _digits(from_) if from_ else sent.to
        message: dict[str, Any] = {
            "id": tap_id or self._new_tap_id(),
            "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        }
        contact: dict[str, Any] = {"profile": {"name": name}}
        if user_id_only:
            user_id = f"ZA.{sender}"
            message["from_user_id"] = user_id
            contact["user_id"] = user_id
        else:
            message["from"] = sender
            contact["wa_id"] = sender
        if with_context:
            message["context"] = {"from": BUSINESS_NUMBER, "id": message_id}
        if sent.kind == "template":
            message["type"] = "button"
            message["button"] = {"payload": key, "text": label}
        else:
            message["type"] = "interactive"
            message["interactive"] = {"type": "button_reply", "button_reply": {"id": key, "title": label}}
        payload = webhook_envelope({"contacts": [contact], "messages": [message]})
        return self._deliver(payload, post)

    def status(
        self,
        message_id: str,
        status: str,
        *,
        error_code: int | None = None,
        error_title: str | None = None,
        timestamp: int | None = None,
        post: bool = True,
    ) -> dict[str, Any]:
        """A `statuses[]` update for a recorded send (Meta's format)."""
        sent = self.message(message_id)
        entry: dict[str, Any] = {
            "id": message_id,
            "status": status,
            "timestamp": str(timestamp if timestamp is not None else int(time.time())),
            "recipient_id": sent.to,
        }
        if status == "failed" or error_code is not None:
            code = error_code if error_code is not None else DEFAULT_FAILED_STATUS_ERROR[0]
            title = error_title or DEFAULT_FAILED_STATUS_ERROR[1]
            error = {"code": code, "title": title, "message": title, "error_data": {"details": title}}
            entry["errors"] = [error]
        return self._deliver(webhook_envelope({"statuses": [entry]}), post)

    def woosh_status(self, message_id: str, status: str, *, post: bool = True) -> dict[str, Any]:
        """Woosh's own simplified status callback for a recorded send."""
        sent = self.message(message_id)
        payload = {
            "wa_id": message_id,
            "to": sent.to,
            "status": status,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return self._deliver(payload, post)

    def post_webhook(
        self, payload: dict[str, Any] | bytes, *, sign: bool = True, secret: str | None = None
    ) -> requests.Response:
        """POST a payload (dict or raw bytes) to the webhook URL, signed unless `sign` is False."""
        if not self.webhook_url:
            raise RuntimeError("the stand-in has no webhook_url to post to")
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "woosh-standin"}
        if sign:
            key = secret if secret is not None else self.webhook_secret
            if key is None:
                raise RuntimeError("no webhook secret to sign with")
            headers["X-Hub-Signature-256"] = signature_header(raw, key)
        return self._session.post(self.webhook_url, data=raw, headers=headers, timeout=30)

    def _deliver(self, payload: dict[str, Any], post: bool) -> dict[str, Any]:
        result: dict[str, Any] = {"payload": payload, "status": None, "body": None}
        if post and self.webhook_url:
            response = self.post_webhook(payload)
            result["status"], result["body"] = response.status_code, response.text
        return result

    def _new_tap_id(self) -> str:
        return f"wamid.TAP{next(self._tap_counter):04d}{uuid.uuid4().hex[:12].upper()}"

    # -- HTTP ------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _args = self._routes.bind_to_environ(environ).match()
            response = getattr(self, f"_http_{endpoint}")(request)
        except NotFound:
            response = _json({"ok": False, "error": "not_found", "message": "Not found"}, 404)
        except HTTPException as exc:
            error = {"ok": False, "error": "bad_request", "message": exc.description}
            response = _json(error, exc.code or 400)
        return response(environ, start_response)  # type: ignore[no-any-return]

    def _http_send(self, request: Request) -> Response:
        raw = request.get_data(cache=False)
        headers = dict(request.headers.items())
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        body = parsed if isinstance(parsed, dict) else {}
        to_field = body.get("to")
        to = _digits(to_field) if isinstance(to_field, str) else ""

        with self._lock:
            delay = self._delay
        if delay:
            self._stopping.wait(delay)

        if not hmac.compare_digest(request.headers.get("X-Api-Key", "").encode(), self.api_key.encode()):
            return self._answer_error(to, body, headers, "invalid_api_key")
        if parsed is None or not isinstance(parsed, dict):
            return self._answer_error(to, body, headers, "unsupported_payload", "body must be a JSON object")

        fault = self._take_fault(to)
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.raw_body is not None:
                self._record(SentMessage(to, body, headers, None, fault.status, [], "raw_body"))
                return Response(fault.raw_body, status=fault.status, content_type="text/plain")
            if fault.error is not None:
                return self._answer_error(to, body, headers, fault.error, status=fault.status)

        try:
            to = _validate_to(body)
            buttons = self._validate_message(body)
        except _Rejected as rejected:
            return self._answer_error(to, body, headers, rejected.code, rejected.message)

        message_id = f"wamid.{uuid.uuid4().hex.upper()}"
        self._record(SentMessage(to, body, headers, message_id, 200, buttons))
        return _json({"ok": True, "wa_id": message_id, "to": to, "accepted": True}, 200)

    def _validate_message(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        kind = body.get("type")
        if kind == "interactive":
            return _validate_interactive(body)
        if kind == "template":
            return self._validate_template(body)
        if kind == "text" or (kind is None and "text" in body):
            return _validate_text(body)
        raise _Rejected("unsupported_payload", f"unsupported message type {kind!r}")

    def _validate_template(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        template = body.get("template")
        name = _dig(template, "name")
        language = _dig(template, "language", "code")
        if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
            raise _Rejected("unsupported_payload", "template.name and template.language.code are required")
        if self._templates is not None and name not in self._templates:
            raise _Rejected("template_not_found", f"template {name!r} is not approved")
        texts = self._templates[name] if self._templates is not None else self._default_texts
        components = _dig(template, "components") or []
        if not isinstance(components, list):
            raise _Rejected("unsupported_payload", "template.components must be a list")
        by_index: dict[int, str] = {}
        for component in components:
            if not isinstance(component, dict) or component.get("type") != "button":
                continue
            if component.get("sub_type") != "quick_reply":
                raise _Rejected("unsupported_payload", "only quick_reply template buttons are supported")
            try:
                index = int(component.get("index", ""))
            except (TypeError, ValueError):
                raise _Rejected("unsupported_payload", "quick_reply button needs a numeric index") from None
            payloads = [
                p.get("payload")
                for p in component.get("parameters") or []
                if isinstance(p, dict) and p.get("type") == "payload"
            ]
            if not 0 <= index < len(texts) or index in by_index:
                raise _Rejected("unsupported_payload", f"no quick_reply button {index} in {name!r}")
            if len(payloads) != 1 or not isinstance(payloads[0], str) or not payloads[0]:
                raise _Rejected("unsupported_payload", "quick_reply button needs exactly one payload")
            if len(payloads[0]) > _MAX_BUTTON_ID:
                raise _Rejected("unsupported_payload", f"payload is over {_MAX_BUTTON_ID} characters")
            by_index[index] = payloads[0]
        return [(by_index[index], texts[index]) for index in sorted(by_index)]

    def _take_fault(self, to: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.to is None or fault.to == to:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, message: SentMessage) -> None:
        with self._lock:
            self._sent.append(message)

    def _answer_error(
        self,
        to: str,
        body: dict[str, Any],
        headers: dict[str, str],
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
    ) -> Response:
        http_status = status if status is not None else ERROR_STATUS.get(code, 400)
        self._record(SentMessage(to, body, headers, None, http_status, [], code))
        error = {"ok": False, "error": code, "message": message or ERROR_MESSAGE.get(code, code)}
        response = _json(error, http_status)
        if http_status == 429:
            response.headers["Retry-After"] = "1"
        return response

    # -- control endpoints ---------------------------------------------------------------------

    def _http_control_health(self, request: Request) -> Response:
        return _json({"ok": True}, 200)

    def _http_control_sent(self, request: Request) -> Response:
        return _json([message.to_json() for message in self.sent], 200)

    def _http_control_tap(self, request: Request) -> Response:
        args = _control_args(request)
        return self._control_call(
            lambda: self.tap(
                _required(args, "message_id"),
                int(_required(args, "choice_index")),
                from_=args.get("from") or args.get("from_"),
                name=str(args.get("name", "Test User")),
                with_context=bool(args.get("with_context", True)),
                tap_id=args.get("tap_id"),
                user_id_only=bool(args.get("user_id_only", False)),
                timestamp=args.get("timestamp"),
                post=bool(args.get("post", True)),
            )
        )

    def _http_control_status(self, request: Request) -> Response:
        args = _control_args(request)
        return self._control_call(
            lambda: self.status(
                _required(args, "message_id"),
                _required(args, "status"),
                error_code=args.get("error_code"),
                error_title=args.get("error_title"),
                timestamp=args.get("timestamp"),
                post=bool(args.get("post", True)),
            )
        )

    def _http_control_woosh_status(self, request: Request) -> Response:
        args = _control_args(request)
        return self._control_call(
            lambda: self.woosh_status(
                _required(args, "message_id"), _required(args, "status"), post=bool(args.get("post", True))
            )
        )

    def _http_control_fail_next(self, request: Request) -> Response:
        args = _control_args(request)

        def program() -> dict[str, Any]:
            self.fail_next(
                args.get("to"),
                error=args.get("error", "server_error"),
                status=args.get("status"),
                times=int(args.get("times", 1)),
                delay=min(float(args.get("delay", 0.0)), _MAX_CONTROL_DELAY),
                raw_body=args.get("raw_body"),
            )
            return {"ok": True}

        return self._control_call(program)

    def _http_control_delay(self, request: Request) -> Response:
        args = _control_args(request)

        def program() -> dict[str, Any]:
            self.set_delay(min(float(args.get("seconds", 0.0)), _MAX_CONTROL_DELAY))
            return {"ok": True}

        return self._control_call(program)

    def _http_control_reset(self, request: Request) -> Response:
        self.reset()
        return _json({"ok": True}, 200)

    @staticmethod
    def _control_call(action: Any) -> Response:
        try:
            return _json(action(), 200)
        except KeyError as exc:
            return _json({"ok": False, "error": "not_found", "message": str(exc)}, 404)
        except (TypeError, ValueError, IndexError) as exc:
            return _json({"ok": False, "error": "bad_request", "message": str(exc)}, 400)
        except requests.RequestException as exc:
            return _json({"ok": False, "error": "webhook_unreachable", "message": str(exc)}, 502)


def webhook_envelope(value: dict[str, Any]) -> dict[str, Any]:
    """A WhatsApp webhook body with one `messages` change carrying `value` (contacts, messages, statuses)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": BUSINESS_NUMBER,
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def _json(data: Any, status: int) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _control_args(request: Request) -> dict[str, Any]:
    try:
        args = json.loads(request.get_data(cache=False) or b"{}")
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise _BadControlBody
    return args


def _required(args: dict[str, Any], key: str) -> str:
    if key not in args or args[key] is None:
        raise ValueError(f"{key!r} is required")
    return str(args[key])


class _BadControlBody(HTTPException):
    code = 400
    description = "control body must be a JSON object"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in alone: `python -m local.woosh_standin --port 8081 --webhook-url ...`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api-key", default="local-woosh-key")
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret", default="local-webhook-secret")
    args = parser.parse_args(argv)
    from local.serving import PortInUseError

    standin = WooshStandIn(
        api_key=args.api_key, webhook_url=args.webhook_url, webhook_secret=args.webhook_secret, port=args.port
    )
    try:
        standin.start()
    except PortInUseError as exc:
        print(f"error: {exc}")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"Woosh stand-in on {standin.base_url} (Ctrl-C stops)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
