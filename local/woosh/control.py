"""The stand-in's control endpoints: the same controls as its methods, for other processes.

Every endpoint takes and answers JSON; the list with bodies is in `local.woosh_standin`'s
docstring. Unknown message ids answer 404, bad arguments 400, an unreachable webhook 502.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.woosh.payloads import STATUS_FORMS, StatusForm
from local.woosh.send_api import json_response

if TYPE_CHECKING:
    from local.woosh.standin import WooshStandIn

MAX_CONTROL_DELAY = 120.0
DEFAULT_NAME = "Test User"


class BadControlBody(HTTPException):
    code = 400
    description = "control body must be a JSON object"


class ControlEndpoints:
    """Routes `/_…` requests to a stand-in's methods."""

    def __init__(self, standin: WooshStandIn) -> None:
        self.standin = standin
        self._handlers: dict[str, Callable[[Request], Response]] = {
            "health": self.health,
            "sent": self.sent,
            "dispatched": self.dispatched,
            "stats": self.stats,
            "tap": self.tap,
            "reply": self.reply,
            "status": self.status,
            "woosh_status": self.woosh_status,
            "wrote": self.wrote,
            "fail_next": self.fail_next,
            "delay": self.delay,
            "reset": self.reset,
        }

    @staticmethod
    def rules() -> list[Rule]:
        reads = ("health", "sent", "dispatched", "stats")
        writes = ("tap", "reply", "status", "woosh_status", "wrote", "fail_next", "delay", "reset")
        return [Rule(f"/_{name}", endpoint=f"control:{name}", methods=["GET"]) for name in reads] + [
            Rule(f"/_{name}", endpoint=f"control:{name}", methods=["POST"]) for name in writes
        ]

    def handle(self, endpoint: str, request: Request) -> Response:
        return self._handlers[endpoint.removeprefix("control:")](request)

    # -- reads ---------------------------------------------------------------------------------

    def health(self, request: Request) -> Response:
        return json_response({"ok": True}, 200)

    def sent(self, request: Request) -> Response:
        return json_response([message.to_json() for message in self.standin.sent], 200)

    def dispatched(self, request: Request) -> Response:
        return json_response([dispatch.to_json() for dispatch in self.standin.dispatched], 200)

    def stats(self, request: Request) -> Response:
        return json_response(self.standin.stats(), 200)

    # -- simulations ---------------------------------------------------------------------------

    def tap(self, request: Request) -> Response:
        args = control_args(request)
        return call(
            lambda: self.standin.tap(
                required(args, "message_id"),
                int(required(args, "choice_index")),
                from_=args.get("from") or args.get("from_"),
                name=str(args.get("name", DEFAULT_NAME)),
                with_context=bool(args.get("with_context", True)),
                tap_id=args.get("tap_id"),
                user_id_only=bool(args.get("user_id_only", False)),
                timestamp=optional_int(args, "timestamp"),
                post=bool(args.get("post", True)),
            )
        )

    def reply(self, request: Request) -> Response:
        """A text reply (`text`), or any other message type (`type` and its `content` object)."""
        args = control_args(request)

        def simulate() -> dict[str, Any]:
            sender = required(args, "from")
            common: dict[str, Any] = {
                "context_id": args.get("context_id"),
                "name": str(args.get("name", DEFAULT_NAME)),
                "message_id": args.get("message_id"),
                "user_id_only": bool(args.get("user_id_only", False)),
                "timestamp": optional_int(args, "timestamp"),
                "post": bool(args.get("post", True)),
            }
            message_type = str(args.get("type", "text"))
            if message_type == "text" and "content" not in args:
                return self.standin.reply(sender, required(args, "text"), **common)
            content = args.get("content")
            if not isinstance(content, dict):
                raise TypeError('\'content\' must be the message type\'s object, e.g. {"body": "…"}')
            return self.standin.inbound(sender, message_type, content, **common)

        return call(simulate)

    def status(self, request: Request) -> Response:
        args = control_args(request)
        return call(
            lambda: self.standin.status(
                required(args, "message_id"),
                required(args, "status"),
                error_code=optional_int(args, "error_code"),
                error_title=args.get("error_title"),
                timestamp=optional_int(args, "timestamp"),
                form=status_form(args.get("form")),
                post=bool(args.get("post", True)),
            )
        )

    def woosh_status(self, request: Request) -> Response:
        args = control_args(request)
        return call(
            lambda: self.standin.woosh_status(
                required(args, "message_id"), required(args, "status"), post=bool(args.get("post", True))
            )
        )

    # -- programming -----------------------------------------------------------------------------

    def wrote(self, request: Request) -> Response:
        args = control_args(request)

        def program() -> dict[str, Any]:
            phone = required(args, "from")
            self.standin.wrote(phone, seconds_ago=float(args.get("seconds_ago", 0)))
            return {"ok": True, "window_open": self.standin.window_open(phone)}

        return call(program)

    def fail_next(self, request: Request) -> Response:
        args = control_args(request)

        def program() -> dict[str, Any]:
            self.standin.fail_next(
                args.get("to"),
                error=args.get("error", "server_error"),
                status=optional_int(args, "status"),
                times=int(args.get("times", 1)),
                delay=min(float(args.get("delay", 0.0)), MAX_CONTROL_DELAY),
                raw_body=args.get("raw_body"),
            )
            return {"ok": True}

        return call(program)

    def delay(self, request: Request) -> Response:
        args = control_args(request)

        def program() -> dict[str, Any]:
            self.standin.set_delay(min(float(args.get("seconds", 0.0)), MAX_CONTROL_DELAY))
            return {"ok": True}

        return call(program)

    def reset(self, request: Request) -> Response:
        self.standin.reset()
        return json_response({"ok": True}, 200)


def call(action: Callable[[], Any]) -> Response:
    try:
        return json_response(action(), 200)
    except KeyError as exc:
        return json_response({"ok": False, "error": "not_found", "message": str(exc)}, 404)
    except (TypeError, ValueError, IndexError) as exc:
        return json_response({"ok": False, "error": "bad_request", "message": str(exc)}, 400)
    except requests.RequestException as exc:
        return json_response({"ok": False, "error": "webhook_unreachable", "message": str(exc)}, 502)


def control_args(request: Request) -> dict[str, Any]:
    try:
        args = json.loads(request.get_data(cache=False) or b"{}")
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise BadControlBody
    return args


def required(args: dict[str, Any], key: str) -> str:
    if key not in args or args[key] is None:
        raise ValueError(f"{key!r} is required")
    return str(args[key])


def optional_int(args: dict[str, Any], key: str) -> int | None:
    value = args.get(key)
    return None if value is None else int(value)


def status_form(value: Any) -> StatusForm | None:
    if value is None:
        return None
    for form in STATUS_FORMS:
        if value == form:
            return form
    raise ValueError(f"form must be one of {', '.join(STATUS_FORMS)}")
