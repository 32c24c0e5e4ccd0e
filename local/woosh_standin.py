"""A stand-in Woosh Bridge on loopback: records sends, answers like the real one, simulates webhooks.

Send API (as Woosh documents it, SPEC §5): `POST /api/messages/send` with `X-Api-Key`;
interactive button messages, templates with quick-reply buttons and plain text, validated
against WhatsApp's limits; `200 {"ok": true, "wa_id": "wamid.…", "to": "…", "accepted":
true}`, `{"ok": false, "error": "<code>", "message": "…"}` with Woosh's status codes, or
when Meta refuses a template `502 {"ok": false, "error": "(#132000) …", "code": 132000,
"detail": {"error": {…}}}`.

Behaviours of the real Bridge, each switched by a constructor option (and a `main()` flag):
- `callback_token`: webhook POSTs carry `Authorization: Bearer <token>`, `User-Agent: node`
  and no `X-Hub-Signature-256`; without it they are signed with `webhook_secret` instead.
  `signing_secret` adds `X-Woosh-Signature: sha256=<hex HMAC of the raw body>` to status
  dispatches.
- `status_form`: statuses go as Meta's `statuses[]` payload (`meta`, the default), in the
  Bridge's `message.status` wrapper with `X-Woosh-Event`, `X-Woosh-WAID`, `X-Woosh-Tenant`
  (`wrapper`), or both, the Meta payload first (`both`, as the real Bridge duplicates).
- `enforce_window`: an interactive or text message to a person who has not written in the
  last 24 hours is accepted, then a `failed` status with error 131047 is dispatched after
  `window_failure_delay` seconds. Templates are always delivered. Taps and replies the
  stand-in simulates open the sender's window; `wrote()` says someone wrote earlier.
- `templates`: approved template shapes (`TemplateShape`): unknown name 400
  `template_not_found`, wrong number of body parameters 502/132000, language not the
  approved one (none sent means `en_US`) 502/132001, a parameter with a newline, a tab or
  five spaces in a row 502/132018; with static payloads a tap carries the label as payload.
  Without a registry any template name is accepted.
- `rate_limits`: 10 messages a second and 100 in any 60 s per API key, else `429
  rate_limited` with `Retry-After`; `RateLimits(time_scale=0.1)` shrinks both windows.

Control endpoints (JSON in and out; unknown message id 404, bad arguments 400, webhook
unreachable 502):
- `GET /_health` → `{"ok": true}`.
- `GET /_sent` → every send received, oldest first (`to`, `body`, `headers`, `message_id`,
  `status_code`, `buttons`, `error`, `received_at`, `fails_with`).
- `GET /_dispatched` → every webhook POST made (`kind`, `payload`, `headers` with the token
  redacted, `posted`, `status_code`, `response_body`, `error`, `at`), oldest first.
- `GET /_stats` → `{"sent", "accepted", "rate_limited", "dispatched", "window_failures"}`.
- `POST /_tap {"message_id", "choice_index", "from"?, "name"?, "with_context"?, "tap_id"?,
  "user_id_only"?, "timestamp"?, "post"?}` → `{"payload", "status", "body"}` (the webhook's
  answer); opens the tapper's window.
- `POST /_reply {"from", "text", "context_id"?, "name"?, "message_id"?, "user_id_only"?,
  "timestamp"?, "post"?}`: a text reply; with `"type"` and `"content"` (e.g. `{"type":
  "image", "content": {"id": "…", "mime_type": "image/jpeg"}}`) any other message type.
  Opens the sender's window.
- `POST /_status {"message_id", "status", "error_code"?, "error_title"?, "timestamp"?,
  "form"?: "meta" | "wrapper" | "both", "post"?}` → the first POST's `{"payload", "status",
  "body"}` plus `"deliveries"` (all of them).
- `POST /_woosh_status {"message_id", "status", "post"?}`: Woosh's older simplified callback.
- `POST /_wrote {"from", "seconds_ago"?}`: that person wrote that long ago (default now) →
  `{"ok": true, "window_open": …}`.
- `POST /_fail_next {"to"?, "error"?, "status"?, "times"?, "delay"?, "raw_body"?}`: the next
  sends fail (see `fail_next()`).
- `POST /_delay {"seconds"}`: every send waits that long before answering.
- `POST /_reset`: forgets sends, dispatches, faults, windows, rate counts and pending failures.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.serving import LOOPBACK, BackgroundServer
from local.woosh.control import ControlEndpoints
from local.woosh.delivery import DelayedCalls, WebhookDelivery
from local.woosh.errors import ERROR_MESSAGE, ERROR_STATUS, Rejected
from local.woosh.limits import RateLimiter, RateLimits, ReplyWindows, retry_after_header
from local.woosh.payloads import (
    BUSINESS_NUMBER,
    DEFAULT_FAILED_STATUS_ERROR,
    DEFAULT_TENANT_ID,
    PHONE_NUMBER_ID,
    REENGAGEMENT_ERROR,
    STATUS_FORMS,
    WABA_ID,
    Dispatch,
    StatusForm,
    WebhookCredentials,
    inbound_message,
    signature_header,
    simple_status,
    status_entry,
    status_wrapper,
    status_wrapper_headers,
    tap_content,
    webhook_envelope,
)
from local.woosh.send_api import (
    SEND_PATH,
    SentMessage,
    accepted_answer,
    digits,
    json_response,
    validate_message,
    validate_to,
)
from local.woosh.templates import (
    DEFAULT_TEMPLATE_BUTTON_TEXTS,
    TemplateShape,
    TemplateSpec,
    template_registry,
)

__all__ = [
    "BUSINESS_NUMBER",
    "DEFAULT_FAILED_STATUS_ERROR",
    "DEFAULT_TEMPLATE_BUTTON_TEXTS",
    "ERROR_MESSAGE",
    "ERROR_STATUS",
    "PHONE_NUMBER_ID",
    "SEND_PATH",
    "WABA_ID",
    "Dispatch",
    "RateLimits",
    "SentMessage",
    "StatusForm",
    "TemplateShape",
    "WooshStandIn",
    "main",
    "signature_header",
    "webhook_envelope",
]

DEFAULT_WINDOW_FAILURE_DELAY = 0.3
_WINDOWED_KINDS = ("interactive", "text")
_T = TypeVar("_T")


@dataclass
class _Fault:
    to: str | None
    error: str | None
    status: int
    remaining: int
    delay: float
    raw_body: str | None


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
        templates: Mapping[str, TemplateSpec] | None = None,
        template_button_texts: Sequence[str] = DEFAULT_TEMPLATE_BUTTON_TEXTS,
        callback_token: str | None = None,
        signing_secret: str | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        status_form: StatusForm = "meta",
        enforce_window: bool = False,
        window_failure_delay: float = DEFAULT_WINDOW_FAILURE_DELAY,
        rate_limits: RateLimits | bool = False,
    ) -> None:
        """`templates` maps approved template names to a `TemplateShape` (or just their quick-reply
        labels by index); when None any template name is accepted with `template_button_texts`.
        `rate_limits=True` applies Woosh's limits as documented; the module docstring has the rest."""
        if status_form not in STATUS_FORMS:
            raise ValueError(f"status_form must be one of {', '.join(STATUS_FORMS)}")
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.callback_token = callback_token
        self.signing_secret = signing_secret
        self.tenant_id = tenant_id
        self.status_form: StatusForm = status_form
        self.enforce_window = enforce_window
        self.window_failure_delay = max(0.0, window_failure_delay)
        self.templates = template_registry(templates)
        self._default_texts = tuple(template_button_texts)
        self.rate_limits: RateLimits | None = (
            rate_limits if isinstance(rate_limits, RateLimits) else RateLimits() if rate_limits else None
        )
        self._limiter = RateLimiter(self.rate_limits) if self.rate_limits else None
        self._windows = ReplyWindows()
        self._lock = threading.Lock()
        self._sent: list[SentMessage] = []
        self._faults: list[_Fault] = []
        self._delay = 0.0
        self._stopping = threading.Event()
        self._inbound_counter = itertools.count(1)
        self._delivery = WebhookDelivery()
        self._later = DelayedCalls()
        self._server = BackgroundServer(self._wsgi, name="woosh stand-in", host=host, port=port)
        self._control = ControlEndpoints(self)
        self._routes = Map([Rule(SEND_PATH, endpoint="send", methods=["POST"]), *ControlEndpoints.rules()])

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> WooshStandIn:
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes sends that are sleeping on a programmed delay
        self._later.cancel_all()
        self._server.stop()
        self._delivery.close()

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

    @property
    def credentials(self) -> WebhookCredentials:
        return WebhookCredentials(self.callback_token, self.webhook_secret, self.signing_secret)

    # -- records and faults --------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """A snapshot of every send received, oldest first."""
        with self._lock:
            return list(self._sent)

    @property
    def dispatched(self) -> list[Dispatch]:
        """A snapshot of every webhook POST made (taps, replies, statuses), oldest first."""
        return self._delivery.dispatched

    @property
    def rate_limited_count(self) -> int:
        """How many sends were answered `429 rate_limited` by the rate limits (not by `fail_next`)."""
        return self._limiter.refused if self._limiter is not None else 0

    def stats(self) -> dict[str, int]:
        sent = self.sent
        return {
            "sent": len(sent),
            "accepted": sum(1 for m in sent if m.accepted),
            "rate_limited": self.rate_limited_count,
            "dispatched": len(self.dispatched),
            "window_failures": sum(1 for m in sent if m.fails_with == REENGAGEMENT_ERROR[0]),
        }

    def accepted(self, to: str | None = None) -> list[SentMessage]:
        wanted = digits(to) if to else None
        return [m for m in self.sent if m.accepted and (wanted is None or m.to == wanted)]

    def message(self, message_id: str) -> SentMessage:
        for message in self.sent:
            if message.message_id == message_id:
                return message
        raise KeyError(f"no accepted send with message id {message_id!r}")

    def wait_for_sent(self, count: int, *, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until at least `count` sends were received; returns them (raises TimeoutError)."""
        return _wait_for(lambda: self.sent, count, timeout, "sends received")

    def wait_for_dispatched(self, count: int, *, timeout: float = 10.0) -> list[Dispatch]:
        """Wait until at least `count` webhook POSTs were made; returns them (raises TimeoutError)."""
        return _wait_for(lambda: self.dispatched, count, timeout, "webhook POSTs made")

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
        fault = _Fault(digits(to) if to else None, error, code, times, max(0.0, delay), raw_body)
        with self._lock:
            self._faults.append(fault)

    def set_delay(self, seconds: float) -> None:
        """Every send waits this long before answering (0 to stop)."""
        with self._lock:
            self._delay = max(0.0, seconds)

    def reset(self) -> None:
        self._later.cancel_all()
        self._delivery.reset()
        with self._lock:
            self._sent.clear()
            self._faults.clear()
            self._delay = 0.0
        self._windows.reset()
        if self._limiter is not None:
            self._limiter.reset()

    # -- the 24-hour window ----------------------------------------------------------------------

    def wrote(self, phone: str, seconds_ago: float = 0) -> None:
        """`phone` wrote to the business `seconds_ago` seconds ago (opens its window if under 24 h)."""
        self._windows.wrote(digits(phone), time.time() - seconds_ago)

    def window_open(self, phone: str) -> bool:
        return self._windows.is_open(digits(phone))

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
        payload_or_id, label = sent.buttons[choice_index]
        message_type, content = tap_content(sent.kind == "template", payload_or_id, label)
        return self.inbound(
            from_ or sent.to,
            message_type,
            content,
            context_id=message_id if with_context else None,
            name=name,
            message_id=tap_id or self._new_inbound_id("TAP"),
            user_id_only=user_id_only,
            timestamp=timestamp,
            post=post,
            kind="tap",
        )

    def reply(
        self,
        from_: str,
        text: str,
        *,
        context_id: str | None = None,
        name: str = "Test User",
        message_id: str | None = None,
        user_id_only: bool = False,
        timestamp: int | None = None,
        post: bool = True,
    ) -> dict[str, Any]:
        """A text from `from_`, quoting `context_id` when given (samples/reply_text_with_context.json)."""
        return self.inbound(
            from_,
            "text",
            {"body": text},
            context_id=context_id,
            name=name,
            message_id=message_id,
            user_id_only=user_id_only,
            timestamp=timestamp,
            post=post,
        )

    def inbound(
        self,
        from_: str,
        message_type: str,
        content: dict[str, Any],
        *,
        context_id: str | None = None,
        name: str = "Test User",
        message_id: str | None = None,
        user_id_only: bool = False,
        timestamp: int | None = None,
        post: bool = True,
        kind: str = "message",
    ) -> dict[str, Any]:
        """Any message from `from_` (`image`, `location`, …, with that type's `content`), forwarded
        as Meta's payload. Like every message from a person, it opens their 24-hour window."""
        sender = digits(from_)
        moment = timestamp if timestamp is not None else int(time.time())
        self._windows.wrote(sender, float(moment))
        payload = inbound_message(
            sender,
            message_id or self._new_inbound_id(message_type.upper()),
            moment,
            message_type,
            content,
            name=name,
            context_id=context_id,
            user_id_only=user_id_only,
        )
        return self._deliver(kind, payload, post)

    def status(
        self,
        message_id: str,
        status: str,
        *,
        error_code: int | None = None,
        error_title: str | None = None,
        timestamp: int | None = None,
        form: StatusForm | None = None,
        post: bool = True,
    ) -> dict[str, Any]:
        """A status update for a recorded send, in `form` (default: the stand-in's `status_form`).

        Returns the first POST's `payload`, `status` and `body`, and `deliveries`: all of them.
        """
        sent = self.message(message_id)
        moment = timestamp if timestamp is not None else int(time.time())
        entry = status_entry(
            message_id, status, sent.to, moment, error_code=error_code, error_title=error_title
        )
        chosen = form or self.status_form
        deliveries = []
        if chosen in ("meta", "both"):
            deliveries.append(self._deliver("status", webhook_envelope({"statuses": [entry]}), post))
        if chosen in ("wrapper", "both"):
            wrapper = status_wrapper(entry, self.tenant_id)
            extra = status_wrapper_headers(message_id, self.tenant_id)
            deliveries.append(self._deliver("message.status", wrapper, post, extra, status_dispatch=True))
        return {**deliveries[0], "deliveries": deliveries}

    def woosh_status(self, message_id: str, status: str, *, post: bool = True) -> dict[str, Any]:
        """Woosh's own simplified status callback for a recorded send."""
        sent = self.message(message_id)
        return self._deliver(
            "woosh_status", simple_status(message_id, sent.to, status), post, status_dispatch=True
        )

    def post_webhook(
        self,
        payload: dict[str, Any] | bytes,
        *,
        sign: bool = True,
        secret: str | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a payload (dict or raw bytes) to the webhook URL.

        With `sign` it carries the stand-in's credentials (Bearer token, else the
        `X-Hub-Signature-256` of `webhook_secret`); `secret` signs with another secret and
        `token` sends another Bearer token instead; `headers` are added last.
        """
        if not self.webhook_url:
            raise RuntimeError("the stand-in has no webhook_url to post to")
        credentials: WebhookCredentials | None = None
        if sign:
            credentials = (
                WebhookCredentials(callback_token=token, webhook_secret=secret)
                if secret is not None or token is not None
                else self.credentials
            )
            if credentials.callback_token is None and credentials.webhook_secret is None:
                raise RuntimeError("no webhook secret to sign with")
        return self._delivery.post_raw(self.webhook_url, payload, credentials, headers)

    def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        post: bool,
        extra_headers: Mapping[str, str] | None = None,
        *,
        status_dispatch: bool = False,
    ) -> dict[str, Any]:
        if not post:
            return {"payload": payload, "status": None, "body": None}
        return self._delivery.deliver(
            self.webhook_url, self.credentials, kind, payload, extra_headers, status_dispatch=status_dispatch
        )

    def _new_inbound_id(self, kind: str) -> str:
        return f"wamid.{kind}{next(self._inbound_counter):04d}{uuid.uuid4().hex[:12].upper()}"

    # -- delayed failures (the 24-hour rule) -------------------------------------------------------

    def _fail_later(self, message_id: str, code: int, title: str) -> None:
        def fail() -> None:
            # An unreachable webhook is recorded in `dispatched`; a message forgotten by reset() is gone.
            with contextlib.suppress(requests.RequestException, KeyError, RuntimeError):
                self.status(message_id, "failed", error_code=code, error_title=title)

        self._later.schedule(self.window_failure_delay, fail)

    # -- HTTP ------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _args = self._routes.bind_to_environ(environ).match()
            if endpoint == "send":
                response = self._http_send(request)
            else:
                response = self._control.handle(endpoint, request)
        except NotFound:
            response = json_response({"ok": False, "error": "not_found", "message": "Not found"}, 404)
        except HTTPException as exc:
            error = {"ok": False, "error": "bad_request", "message": exc.description}
            response = json_response(error, exc.code or 400)
        return response(environ, start_response)

    def _http_send(self, request: Request) -> Response:
        raw = request.get_data(cache=False)
        headers = dict(request.headers.items())
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        body = parsed if isinstance(parsed, dict) else {}
        to_field = body.get("to")
        to = digits(to_field) if isinstance(to_field, str) else ""

        with self._lock:
            delay = self._delay
        if delay:
            self._stopping.wait(delay)

        api_key = request.headers.get("X-Api-Key", "")
        if not hmac.compare_digest(api_key.encode(), self.api_key.encode()):
            return self._answer_error(to, body, headers, Rejected("invalid_api_key"))
        if self._limiter is not None:
            wait = self._limiter.admit(api_key)
            if wait is not None:
                response = self._answer_error(to, body, headers, Rejected("rate_limited"))
                response.headers["Retry-After"] = retry_after_header(wait)
                return response
        if parsed is None or not isinstance(parsed, dict):
            return self._answer_error(
                to, body, headers, Rejected("unsupported_payload", "body must be a JSON object")
            )

        fault = self._take_fault(to)
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.raw_body is not None:
                self._record(SentMessage(to, body, headers, None, fault.status, [], "raw_body"))
                return Response(fault.raw_body, status=fault.status, content_type="text/plain")
            if fault.error is not None:
                return self._answer_error(to, body, headers, Rejected(fault.error), status=fault.status)

        try:
            to = validate_to(body)
            buttons = validate_message(body, self.templates, self._default_texts)
        except Rejected as rejected:
            return self._answer_error(to, body, headers, rejected)

        message_id = f"wamid.{uuid.uuid4().hex.upper()}"
        message = SentMessage(to, body, headers, message_id, 200, buttons)
        # WhatsApp accepts a session message outside the 24-hour window and fails it a moment later.
        outside_window = (
            self.enforce_window and message.kind in _WINDOWED_KINDS and not self._windows.is_open(to)
        )
        if outside_window:
            message = SentMessage(
                to, body, headers, message_id, 200, buttons, fails_with=REENGAGEMENT_ERROR[0]
            )
        self._record(message)
        if outside_window:
            self._fail_later(message_id, *REENGAGEMENT_ERROR)
        return accepted_answer(message_id, to)

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
        rejected: Rejected,
        *,
        status: int | None = None,
    ) -> Response:
        http_status = status if status is not None else rejected.status
        self._record(SentMessage(to, body, headers, None, http_status, [], rejected.recorded_error))
        response = json_response(rejected.answer(), http_status)
        if http_status == 429:
            response.headers["Retry-After"] = "1"
        return response


def _wait_for(read: Callable[[], list[_T]], count: int, timeout: float, what: str) -> list[_T]:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = read()
        if len(snapshot) >= count:
            return snapshot
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{len(snapshot)} {what}, {count} expected")
        time.sleep(0.02)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in alone: `python -m local.woosh_standin --port 8081 --webhook-url ...` (`--help`)."""
    from local.woosh.cli import run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
