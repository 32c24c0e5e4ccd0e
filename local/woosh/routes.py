"""The stand-in's HTTP side: its URL map, the send endpoint's handling, and error answers.

`POST /api/messages/send` goes through the Bridge's checks in its order (programmed delay,
API key, rate limits, a JSON object), then any failure programmed with `fail_next`, then
WhatsApp's rules (`local.woosh.send_api`); every request is recorded, accepted or not. An
accepted session message to someone outside the 24-hour window is failed a moment later, as
WhatsApp does. The `/_…` paths go to `ControlEndpoints`; anything else answers 404.
"""

from __future__ import annotations

import hmac
import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.woosh.control import ControlEndpoints
from local.woosh.errors import Rejected
from local.woosh.limits import RateLimiter, ReplyWindows, retry_after_header
from local.woosh.payloads import REENGAGEMENT_ERROR
from local.woosh.recording import Fault, SendRecord
from local.woosh.send_api import (
    SEND_PATH,
    SentMessage,
    accepted_answer,
    digits,
    json_response,
    validate_message,
    validate_to,
)

if TYPE_CHECKING:
    from local.woosh.standin import WooshStandIn

# The kinds WhatsApp refuses outside the 24-hour window; a template is always delivered.
_WINDOWED_KINDS = ("interactive", "text")


class BridgeRoutes:
    """The stand-in's WSGI application.

    Settings a test may change on a running stand-in (`api_key`, `templates`,
    `enforce_window`) are read from it on every request; the state it shares with it
    (sends, rate limiter, windows, the stopping event) is handed over at construction.
    """

    def __init__(
        self,
        standin: WooshStandIn,
        *,
        sends: SendRecord,
        limiter: RateLimiter | None,
        windows: ReplyWindows,
        default_texts: Sequence[str],
        stopping: threading.Event,
    ) -> None:
        self.standin = standin
        self._sends = sends
        self._limiter = limiter
        self._windows = windows
        self._default_texts = tuple(default_texts)
        self._stopping = stopping
        self._control = ControlEndpoints(standin)
        self._map = Map([Rule(SEND_PATH, endpoint="send", methods=["POST"]), *ControlEndpoints.rules()])

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _args = self._map.bind_to_environ(environ).match()
            response = self.send(request) if endpoint == "send" else self._control.handle(endpoint, request)
        except NotFound:
            response = json_response({"ok": False, "error": "not_found", "message": "Not found"}, 404)
        except HTTPException as exc:
            error = {"ok": False, "error": "bad_request", "message": exc.description}
            response = json_response(error, exc.code or 400)
        return response(environ, start_response)

    def send(self, request: Request) -> Response:
        raw = request.get_data(cache=False)
        headers = dict(request.headers.items())
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        body = parsed if isinstance(parsed, dict) else {}
        to_field = body.get("to")
        to = digits(to_field) if isinstance(to_field, str) else ""

        delay = self._sends.delay
        if delay:
            self._stopping.wait(delay)

        refused = self._refuse_caller(request.headers.get("X-Api-Key", ""), to, body, headers)
        if refused is not None:
            return refused
        if not isinstance(parsed, dict):
            return self._answer_error(
                to, body, headers, Rejected("unsupported_payload", "body must be a JSON object")
            )
        fault = self._sends.take_fault(to)
        if fault is not None:
            faulted = self._answer_fault(fault, to, body, headers)
            if faulted is not None:
                return faulted
        return self._accept(to, body, headers)

    def _refuse_caller(
        self, api_key: str, to: str, body: dict[str, Any], headers: dict[str, str]
    ) -> Response | None:
        """401 for a wrong API key, 429 past the rate limits (with Retry-After), else None."""
        if not hmac.compare_digest(api_key.encode(), self.standin.api_key.encode()):
            return self._answer_error(to, body, headers, Rejected("invalid_api_key"))
        wait = self._limiter.admit(api_key) if self._limiter is not None else None
        if wait is None:
            return None
        response = self._answer_error(to, body, headers, Rejected("rate_limited"))
        response.headers["Retry-After"] = retry_after_header(wait)
        return response

    def _answer_fault(
        self, fault: Fault, to: str, body: dict[str, Any], headers: dict[str, str]
    ) -> Response | None:
        """The programmed failure's answer, after its delay; None for a fault that only delays."""
        if fault.delay:
            self._stopping.wait(fault.delay)
        if fault.raw_body is not None:
            self._sends.record(SentMessage(to, body, headers, None, fault.status, [], "raw_body"))
            return Response(fault.raw_body, status=fault.status, content_type="text/plain")
        if fault.error is not None:
            return self._answer_error(to, body, headers, Rejected(fault.error), status=fault.status)
        return None

    def _accept(self, to: str, body: dict[str, Any], headers: dict[str, str]) -> Response:
        try:
            to = validate_to(body)
            buttons = validate_message(body, self.standin.templates, self._default_texts)
        except Rejected as rejected:
            return self._answer_error(to, body, headers, rejected)

        message_id = f"wamid.{uuid.uuid4().hex.upper()}"
        message = SentMessage(to, body, headers, message_id, 200, buttons)
        # WhatsApp accepts a session message outside the 24-hour window and fails it a moment later.
        outside_window = (
            self.standin.enforce_window and message.kind in _WINDOWED_KINDS and not self._windows.is_open(to)
        )
        if outside_window:
            message = SentMessage(
                to, body, headers, message_id, 200, buttons, fails_with=REENGAGEMENT_ERROR[0]
            )
        self._sends.record(message)
        if outside_window:
            self.standin.fail_later(message_id, *REENGAGEMENT_ERROR)
        return accepted_answer(message_id, to)

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
        self._sends.record(SentMessage(to, body, headers, None, http_status, [], rejected.recorded_error))
        response = json_response(rejected.answer(), http_status)
        if http_status == 429:
            response.headers["Retry-After"] = "1"
        return response
