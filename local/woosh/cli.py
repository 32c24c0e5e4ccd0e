"""The stand-in's command line: `python -m local.woosh_standin`, every behaviour a flag or a variable."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from collections.abc import Sequence

from local.child_server import inherited_listener, serve_until_stopped
from local.woosh.inbound import DEFAULT_WINDOW_FAILURE_DELAY
from local.woosh.limits import RateLimits
from local.woosh.payloads import DEFAULT_TENANT_ID, STATUS_FORMS
from local.woosh.standin import WooshStandIn
from local.woosh.templates import TemplateShape, TemplateSpec

DESCRIPTION = (
    "A stand-in Woosh Bridge on loopback: records sends, answers like the real one, simulates webhooks."
)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _load_templates(value: str | None) -> dict[str, TemplateSpec] | None:
    """Inline JSON or `@path`: `{"name": {"body_params", "buttons", "static_payloads", "language"}}`."""
    if not value:
        return None
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as file:
            value = file.read()
    data = json.loads(value)
    if not isinstance(data, dict) or not all(isinstance(shape, dict) for shape in data.values()):
        raise ValueError("templates must be a JSON object of name -> shape object")
    return {name: TemplateShape.from_json(shape) for name, shape in data.items()}


def _option(
    parser: argparse.ArgumentParser,
    option: str,
    variable: str,
    help_: str,
    *,
    kind: type = str,
    default: object = None,
    choices: Sequence[str] | None = None,
) -> None:
    """An option whose default is read from `variable` (named in its help); a `bool` is a flag
    with --no- form, on when the variable is 1/true/yes/on."""
    if kind is bool:
        parser.add_argument(
            option,
            action=argparse.BooleanOptionalAction,
            default=_env_flag(variable),
            help=f"{help_} ({variable}=1)",
        )
        return
    raw = os.environ.get(variable)
    parser.add_argument(
        option,
        type=kind,
        choices=choices,
        default=kind(raw) if raw else default,
        help=f"{help_} ({variable})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        epilog="Every option also reads the WOOSH_STANDIN_* environment variable named in its help.",
    )
    parser.add_argument("--port", type=int, default=8081)
    # The local stack runs the stand-in as a child (`local.child_server`): it serves on the
    # stack's listening socket and stops when the stack is gone.
    parser.add_argument("--fd", type=int, help="serve on this inherited listening socket, not --port")
    parser.add_argument("--parent", type=int, help="with --fd: exit when this process is gone")
    parser.add_argument("--api-key", default="local-woosh-key")
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret", default="local-webhook-secret")
    _option(
        parser,
        "--callback-token",
        "WOOSH_STANDIN_CALLBACK_TOKEN",
        "forward with 'Authorization: Bearer TOKEN' instead of signing "
        "(the local stack's value is local-callback-token)",
    )
    _option(
        parser,
        "--signing-secret",
        "WOOSH_STANDIN_SIGNING_SECRET",
        "add X-Woosh-Signature to status dispatches",
    )
    _option(
        parser,
        "--tenant-id",
        "WOOSH_STANDIN_TENANT_ID",
        "X-Woosh-Tenant and tenant_id of status wrappers",
        default=DEFAULT_TENANT_ID,
    )
    _option(
        parser,
        "--status-form",
        "WOOSH_STANDIN_STATUS_FORM",
        "statuses as Meta's payload, the Bridge's wrapper, or both",
        default="meta",
        choices=STATUS_FORMS,
    )
    _option(
        parser,
        "--enforce-window",
        "WOOSH_STANDIN_ENFORCE_WINDOW",
        "fail session messages outside the 24-hour window with 131047",
        kind=bool,
    )
    _option(
        parser,
        "--window-failure-delay",
        "WOOSH_STANDIN_WINDOW_FAILURE_DELAY",
        "seconds before the 131047 status",
        kind=float,
        default=DEFAULT_WINDOW_FAILURE_DELAY,
    )
    _option(
        parser,
        "--templates",
        "WOOSH_STANDIN_TEMPLATES",
        "approved template shapes as JSON or @file; default: any template",
    )
    _option(
        parser,
        "--rate-limits",
        "WOOSH_STANDIN_RATE_LIMITS",
        "10 a second and 100 a minute per API key",
        kind=bool,
    )
    _option(parser, "--rate-per-second", "WOOSH_STANDIN_RATE_PER_SECOND", "burst limit", kind=int, default=10)
    _option(
        parser,
        "--rate-per-minute",
        "WOOSH_STANDIN_RATE_PER_MINUTE",
        "messages in any 60 s",
        kind=int,
        default=100,
    )
    _option(
        parser,
        "--rate-time-scale",
        "WOOSH_STANDIN_RATE_TIME_SCALE",
        "multiply the rate windows (0.1: 0.1 s and 6 s)",
        kind=float,
        default=1.0,
    )
    return parser


def standin_from_args(argv: Sequence[str] | None = None) -> WooshStandIn:
    """The stand-in `main()` would run for these arguments (and environment), not started."""
    return _standin(_parser().parse_args(argv))


def _standin(args: argparse.Namespace) -> WooshStandIn:
    return WooshStandIn(
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        port=args.port,
        templates=_load_templates(args.templates),
        callback_token=args.callback_token,
        signing_secret=args.signing_secret,
        tenant_id=args.tenant_id,
        status_form=args.status_form,
        enforce_window=args.enforce_window,
        window_failure_delay=args.window_failure_delay,
        rate_limits=RateLimits(args.rate_per_second, args.rate_per_minute, args.rate_time_scale)
        if args.rate_limits
        else False,
        listener=inherited_listener(args.fd) if args.fd is not None else None,
    )


def run(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in until Ctrl-C or SIGTERM."""
    from local.serving import PortInUseError

    args = _parser().parse_args(argv)
    standin = _standin(args)
    try:
        standin.start()
    except PortInUseError as exc:
        print(f"error: {exc}")
        return 2
    if args.fd is not None:
        try:
            serve_until_stopped(args.parent)
        finally:
            standin.stop()
        return 0
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
