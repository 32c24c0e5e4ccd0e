"""Typed configuration, read once per container from the function environment (SPEC §3)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lift_alerts.outbound import DEFAULT_TEMPLATE_PARAMS, TEMPLATE_PARAM_NAMES


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
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()


# The keys that can authenticate POST /webhook (SPEC §6): at least one must be set.
WEBHOOK_CREDENTIAL_KEYS = ("callback_token", "webhook_secret")
MISSING_WEBHOOK_CREDENTIALS = (
    "the app secret has neither callback_token nor webhook_secret: "
    "every POST /webhook is answered 503 until one of them is set"
)


@dataclass(frozen=True)
class AppSecrets:
    """The JSON secret named by APP_SECRET_ID. Never logged: repr hides every value."""

    woosh_api_key: str = field(repr=False)
    verify_token: str = field(repr=False)
    # The current webhook secret first; during a rotation the previous one is still accepted
    # until `previous_webhook_secret_valid_until`, so a rotation never drops taps.
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    # The Bearer token Woosh Bridge sends (`Authorization: Bearer <callback token>`), with the
    # previous one during a rotation, on the same terms as the webhook secret.
    callback_tokens: tuple[str, ...] = field(default=(), repr=False)
    # Woosh's own key for `X-Woosh-Signature`, when its status dispatcher signs with one.
    woosh_signing_secret: str | None = field(default=None, repr=False)

    @property
    def webhook_credentials_configured(self) -> bool:
        """False when neither `callback_token` nor `webhook_secret` is set: no POST can be
        authenticated, so the webhook answers 503 and the sender keeps its events."""
        return bool(self.callback_tokens or self.webhook_secrets)

    @property
    def woosh_signature_secrets(self) -> tuple[str, ...]:
        """Keys for `X-Woosh-Signature`: Woosh's own when set, else the webhook secret(s)."""
        return (self.woosh_signing_secret,) if self.woosh_signing_secret else self.webhook_secrets

    @classmethod
    def from_json(cls, value: Any, now: datetime | None = None) -> AppSecrets:
        data = json.loads(value) if isinstance(value, str | bytes) else value
        if not isinstance(data, dict):
            raise ConfigurationError("the app secret must be a JSON object")
        missing = [k for k in ("woosh_api_key", "verify_token") if not data.get(k)]
        if missing:
            raise ConfigurationError(f"the app secret lacks: {', '.join(missing)}")
        # Missing webhook credentials are not an error here: the send API and the timer need
        # only the Woosh key, and the webhook answers 503 itself (SPEC §6).
        moment = now or datetime.now(UTC)
        signing = data.get("woosh_signing_secret")
        return cls(
            woosh_api_key=str(data["woosh_api_key"]),
            verify_token=str(data["verify_token"]),
            webhook_secrets=_current_and_previous(data, "webhook_secret", moment),
            callback_tokens=_current_and_previous(data, "callback_token", moment),
            woosh_signing_secret=str(signing) if signing else None,
        )


# The secret's keys that rotate with a `previous_<key>` and `previous_<key>_valid_until`: read
# by AppSecrets.from_json, and their deadlines end a parsed secret's life (`_parse_secret`).
ROTATED_KEYS = ("webhook_secret", "callback_token")


def _current_and_previous(data: dict[str, Any], key: str, now: datetime) -> tuple[str, ...]:
    """`key`'s value, then `previous_<key>` while `previous_<key>_valid_until` is in the future.

    The previous value belongs to a rotation of the current one: without a current value it
    is ignored, and without a deadline it is never accepted (no open-ended grace). The
    deadline is compared with `now` on every call, so a cached secret still expires on time.
    """
    current = data.get(key)
    if not current:
        return ()
    values = [str(current)]
    deadline = _previous_deadline(data, key)
    if deadline is not None and now < deadline:
        values.append(str(data[f"previous_{key}"]))
    return tuple(values)


def _previous_deadline(data: dict[str, Any], key: str) -> datetime | None:
    """`previous_<key>_valid_until` when a current and a previous value are both set, else None."""
    until = data.get(f"previous_{key}_valid_until")
    if not (data.get(key) and data.get(f"previous_{key}") and until):
        return None
    try:
        deadline = datetime.fromisoformat(str(until).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigurationError(f"previous_{key}_valid_until is not ISO 8601") from exc
    return deadline if deadline.tzinfo is not None else deadline.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _ParsedSecret:
    """The secret's value as last read, parsed: valid while the value is the same and
    `until` (the next rotation deadline still ahead, when the accepted values change) is not past."""

    raw: Any
    secrets: AppSecrets
    until: datetime | None


_parsed_secret: _ParsedSecret | None = None


def _parse_secret(raw: Any) -> AppSecrets:
    """AppSecrets from the secret's value, parsed again only when the value changed (a rotation
    is seen as soon as Powertools' cache refreshes) or a previous value's deadline passed."""
    global _parsed_secret  # noqa: PLW0603 - one parsed value per container, replaced whole
    now = datetime.now(UTC)
    parsed = _parsed_secret
    if parsed is not None and parsed.raw == raw and (parsed.until is None or now < parsed.until):
        return parsed.secrets
    data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    secrets = AppSecrets.from_json(data, now=now)
    deadlines = [_previous_deadline(data, key) for key in ROTATED_KEYS]
    ahead = [deadline for deadline in deadlines if deadline is not None and now < deadline]
    _parsed_secret = _ParsedSecret(raw, secrets, min(ahead, default=None))
    return secrets


def get_secrets() -> AppSecrets:
    """Read through Powertools parameters, which caches the value for `secret_max_age_seconds`."""
    settings = get_settings()
    raw = _secrets_provider().get(settings.app_secret_id, max_age=settings.secret_max_age_seconds)
    secrets = _parse_secret(raw)
    if not secrets.webhook_credentials_configured:
        _report_missing_webhook_credentials()
    return secrets


@cache
def _report_missing_webhook_credentials() -> None:
    """Once per container (at its first read of the secret): the webhook will refuse every
    POST with 503 until the secret holds a credential. Names the keys, never a value."""
    from lift_alerts.observability import logger

    logger.error(
        MISSING_WEBHOOK_CREDENTIALS,
        extra={"missing_keys": list(WEBHOOK_CREDENTIAL_KEYS), "secret_first_read": True},
    )


@cache
def _secrets_provider() -> Any:
    from aws_lambda_powertools.utilities import parameters

    from lift_alerts.aws import client

    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def reset_caches() -> None:
    """Forget settings, clients and the cached secret (tests change the environment)."""
    from lift_alerts.aws import reset_clients
    from lift_alerts.sending import reset_woosh_clients

    global _parsed_secret  # noqa: PLW0603
    get_settings.cache_clear()
    _secrets_provider.cache_clear()
    _parsed_secret = None
    _report_missing_webhook_credentials.cache_clear()
    reset_clients()
    reset_woosh_clients()
