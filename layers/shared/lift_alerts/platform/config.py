"""Typed configuration, read once per container from the function environment (SPEC §3).

`reset_caches` forgets everything read (tests change the environment); what other packages
keep per container registers itself with `on_reset`, so this module imports none of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# What may fill an alert template's body variables (ALERT_TEMPLATE_PARAMS, SPEC §5), by name:
# `domain.outbound` renders each (and checks at import that it renders exactly these).
TEMPLATE_PARAM_NAMES: tuple[str, ...] = (
    "heading",
    "ticket_id",
    "site",
    "lift_id",
    "floor",
    "note",
    "location",
    "text",
)
DEFAULT_TEMPLATE_PARAMS: tuple[str, ...] = ("heading", "ticket_id", "site", "lift_id", "floor")


class ConfigurationError(RuntimeError):
    """The function environment or the secret is missing something the service needs."""


Number = TypeVar("Number", int, float)


def number_env(
    name: str,
    default: Number,
    low: Number,
    high: Number,
    *,
    error: type[Exception] = ConfigurationError,
) -> Number:
    """A number from the environment, of the default's type, within [low, high]; unset: the
    default. Anything else raises `error` naming the variable (it fails the cold start)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError as exc:
        what = "an integer" if kind is int else "a number"
        raise error(f"{name} must be {what}, got {raw!r}") from exc
    if not low <= value <= high:
        shown = str if kind is int else "{:g}".format
        raise error(f"{name} must be between {shown(low)} and {shown(high)}, got {shown(value)}")
    return value


def _template_params_env() -> tuple[str, ...]:
    """ALERT_TEMPLATE_PARAMS: comma-separated names of what fills the template's body variables.

    An unknown name is a configuration error (the function fails at cold start naming it),
    never a send Meta refuses later.
    """
    raw = os.environ.get("ALERT_TEMPLATE_PARAMS", "").strip()
    if not raw:
        return DEFAULT_TEMPLATE_PARAMS
    names = tuple(name.strip() for name in raw.split(","))
    unknown = [name for name in names if name not in TEMPLATE_PARAM_NAMES]
    if unknown:
        shown = ", ".join(repr(name) for name in unknown)
        raise ConfigurationError(
            f"ALERT_TEMPLATE_PARAMS: unknown template parameter {shown} in {raw!r} "
            f"(known: {', '.join(TEMPLATE_PARAM_NAMES)})"
        )
    return names


def _timezone_env(name: str, default: str) -> str:
    """An IANA time zone name (DISPLAY_TIMEZONE); an unknown one fails the cold start naming it."""
    raw = os.environ.get(name, "").strip() or default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"{name}: unknown time zone {raw!r} (an IANA name such as {default!r})"
        ) from exc
    return raw


def _phone_region_env() -> str:
    """DEFAULT_PHONE_REGION: the region national numbers are read in (SPEC §4), two capital
    letters (ISO 3166). Whether libphonenumber knows it is checked when a number is read:
    importing it here would cost every function's cold start 30-50 ms."""
    raw = os.environ.get("DEFAULT_PHONE_REGION", "").strip() or "ZA"
    if not re.fullmatch(r"[A-Z]{2}", raw):
        raise ConfigurationError(
            f"DEFAULT_PHONE_REGION must be two capital letters such as 'ZA', got {raw!r}"
        )
    return raw


def _named_urls_env(name: str) -> tuple[tuple[str, str], ...]:
    """`Name=url,Name=url` (DEAD_LETTER_QUEUE_URLS): each queue by the name operators know."""
    raw = os.environ.get(name, "").strip()
    pairs: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        label, sep, url = part.partition("=")
        if not sep or not label.strip() or not url.strip():
            raise ConfigurationError(f"{name}: expected Name=url pairs separated by commas, got {part!r}")
        pairs.append((label.strip(), url.strip()))
    return tuple(pairs)


@dataclass(frozen=True)
class DeskSignIn:
    """The desk page's sign-in (SPEC §13): the Cognito user pool's hosted domain (https URL),
    its app client (public: authorization code with PKCE, no secret), where it sends the
    browser back, and the scopes asked for."""

    domain: str
    client_id: str
    redirect_uri: str
    logout_uri: str
    scopes: tuple[str, ...]

    @classmethod
    def from_env(cls) -> DeskSignIn | None:
        """DESK_AUTH_DOMAIN, DESK_CLIENT_ID, DESK_REDIRECT_URI (DESK_LOGOUT_URI, DESK_SCOPES);
        none set: no sign-in (the local stack); some but not all: a configuration error."""
        names = ("DESK_AUTH_DOMAIN", "DESK_CLIENT_ID", "DESK_REDIRECT_URI")
        values = {n: os.environ.get(n, "").strip() for n in names}
        if not any(values.values()):
            return None
        missing = [n for n, v in values.items() if not v]
        if missing:
            raise ConfigurationError(f"desk sign-in needs {', '.join(missing)} as well")
        domain = values["DESK_AUTH_DOMAIN"]
        scopes = os.environ.get("DESK_SCOPES", "").replace(",", " ").split() or ["openid", "email"]
        return cls(
            domain=domain if domain.startswith("https://") else f"https://{domain}",
            client_id=values["DESK_CLIENT_ID"],
            redirect_uri=values["DESK_REDIRECT_URI"],
            logout_uri=os.environ.get("DESK_LOGOUT_URI", "").strip() or values["DESK_REDIRECT_URI"],
            scopes=tuple(scopes),
        )


@dataclass(frozen=True)
class Settings:
    alerts_table: str
    event_bus_name: str
    woosh_base_url: str
    app_secret_id: str
    template_name: str | None
    template_language: str
    parked_queue_url: str | None
    retention_days: int
    escalation_after_seconds: int
    escalation_max_rounds: int
    # API Gateway cuts at 29 s; SPEC §4 promises an answer within 25 s, so Woosh gets less.
    send_deadline_seconds: float
    secret_max_age_seconds: int
    # The approved template for notices, acknowledgements and critical messages to people
    # outside their 24-hour window (one body variable: the notice text, SPEC §10); None skips them.
    # Names of what fills the template's body variables {{1}}, {{2}}, … (SPEC §5).
    template_params: tuple[str, ...] = DEFAULT_TEMPLATE_PARAMS
    notice_template_name: str | None = None
    # Times shown to people (SPEC §10); API and event times stay UTC.
    display_timezone: str = "Africa/Johannesburg"
    # A reply that quotes none of our messages belongs to the latest open alert sent to its
    # sender within this many seconds before they wrote (SPEC §10).
    reply_window_seconds: int = 3600
    # Entrapment confirmation (SPEC §10): the wait before each YES reminder, how many
    # reminders, and the approved template (one body variable, one quick reply YES) for
    # people outside the 24-hour window; without it they are skipped and counted.
    confirm_after_seconds: int = 300
    confirm_max_rounds: int = 3
    confirm_template_name: str | None = None
    # The wake-up queue of timed steps (SPEC §12); None: only the one-minute sweep runs them.
    timer_queue_url: str | None = None
    # The region national phone numbers are read in (SPEC §4).
    default_phone_region: str = "ZA"
    # The desk (SPEC §13): the secret whose value keys the list's `next` cursors, the
    # dead-letter queues and the alarm name prefix `GET /status` reads, and the page's sign-in.
    cursor_secret_id: str | None = None
    dead_letter_queues: tuple[tuple[str, str], ...] = ()
    alarm_name_prefix: str | None = None
    desk_sign_in: DeskSignIn | None = None

    @classmethod
    def from_env(cls) -> Settings:
        missing = [n for n in ("ALERTS_TABLE", "EVENT_BUS_NAME", "APP_SECRET_ID") if not os.environ.get(n)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        template = os.environ.get("ALERT_TEMPLATE_NAME", "").strip() or None
        return cls(
            alerts_table=os.environ["ALERTS_TABLE"],
            event_bus_name=os.environ["EVENT_BUS_NAME"],
            woosh_base_url=(os.environ.get("WOOSH_BASE_URL", "").strip() or "https://wa.woosh.ai").rstrip(
                "/"
            ),
            app_secret_id=os.environ["APP_SECRET_ID"],
            template_name=template,
            template_language=os.environ.get("ALERT_TEMPLATE_LANGUAGE", "").strip() or "en",
            template_params=_template_params_env(),
            parked_queue_url=os.environ.get("PARKED_QUEUE_URL", "").strip() or None,
            retention_days=number_env("RETENTION_DAYS", 90, 1, 3650),
            escalation_after_seconds=number_env("ESCALATION_AFTER_SECONDS", 120, 1, 3600),
            escalation_max_rounds=number_env("ESCALATION_MAX_ROUNDS", 2, 0, 10),
            send_deadline_seconds=float(number_env("SEND_DEADLINE_MS", 22_000, 1_000, 25_000)) / 1000,
            secret_max_age_seconds=number_env("SECRET_MAX_AGE_SECONDS", 300, 0, 86_400),
            notice_template_name=os.environ.get("NOTICE_TEMPLATE_NAME", "").strip() or None,
            display_timezone=_timezone_env("DISPLAY_TIMEZONE", "Africa/Johannesburg"),
            reply_window_seconds=number_env("REPLY_WINDOW_SECONDS", 3600, 0, 86_400),
            confirm_after_seconds=number_env("CONFIRM_AFTER_SECONDS", 300, 1, 3600),
            confirm_max_rounds=number_env("CONFIRM_MAX_ROUNDS", 3, 0, 10),
            confirm_template_name=os.environ.get("CONFIRM_TEMPLATE_NAME", "").strip() or None,
            timer_queue_url=os.environ.get("TIMER_QUEUE_URL", "").strip() or None,
            default_phone_region=_phone_region_env(),
            cursor_secret_id=os.environ.get("CURSOR_SECRET_ID", "").strip() or None,
            dead_letter_queues=_named_urls_env("DEAD_LETTER_QUEUE_URLS"),
            alarm_name_prefix=os.environ.get("ALARM_NAME_PREFIX", "").strip() or None,
            desk_sign_in=DeskSignIn.from_env(),
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()


_resets: list[Callable[[], None]] = []


def on_reset(forget: Callable[[], None]) -> None:
    """Have `reset_caches` call `forget` (a cache of something built from the configuration)."""
    _resets.append(forget)


def reset_caches() -> None:
    """Forget settings, clients and the cached secret (tests change the environment)."""
    get_settings.cache_clear()
    for forget in _resets:
        forget()
