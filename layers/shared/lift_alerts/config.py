"""Typed configuration, read once per container from the function environment (SPEC §3)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any


class ConfigurationError(RuntimeError):
    """The function environment or the secret is missing something the service needs."""


def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, got {value}")
    return value


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
    # Entrapment confirmation (SPEC §10): the wait before each YES reminder, how many
    # reminders, and the approved template (one body variable, one quick reply YES) for
    # people outside the 24-hour window; without it they are skipped and counted.
    confirm_after_seconds: int = 300
    confirm_max_rounds: int = 3
    confirm_template_name: str | None = None
    # The approved template for notices (one body variable: the notice text).
    notice_template_name: str | None = None

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
            parked_queue_url=os.environ.get("PARKED_QUEUE_URL", "").strip() or None,
            retention_days=_int_env("RETENTION_DAYS", 90, 1, 3650),
            escalation_after_seconds=_int_env("ESCALATION_AFTER_SECONDS", 120, 1, 3600),
            escalation_max_rounds=_int_env("ESCALATION_MAX_ROUNDS", 2, 0, 10),
            send_deadline_seconds=float(_int_env("SEND_DEADLINE_MS", 22_000, 1_000, 25_000)) / 1000,
            secret_max_age_seconds=_int_env("SECRET_MAX_AGE_SECONDS", 300, 0, 86_400),
            confirm_after_seconds=_int_env("CONFIRM_AFTER_SECONDS", 300, 1, 3600),
            confirm_max_rounds=_int_env("CONFIRM_MAX_ROUNDS", 3, 0, 10),
            confirm_template_name=os.environ.get("CONFIRM_TEMPLATE_NAME", "").strip() or None,
            notice_template_name=os.environ.get("NOTICE_TEMPLATE_NAME", "").strip() or None,
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()


@dataclass(frozen=True)
class AppSecrets:
    """The JSON secret named by APP_SECRET_ID. Never logged: repr hides every value."""

    woosh_api_key: str = field(repr=False)
    verify_token: str = field(repr=False)
    # The current webhook secret first; during a rotation the previous one is still accepted
    # until `previous_webhook_secret_valid_until`, so a rotation never drops taps.
    webhook_secrets: tuple[str, ...] = field(repr=False)

    @classmethod
    def from_json(cls, value: Any, now: datetime | None = None) -> AppSecrets:
        data = json.loads(value) if isinstance(value, str | bytes) else value
        if not isinstance(data, dict):
            raise ConfigurationError("the app secret must be a JSON object")
        missing = [k for k in ("woosh_api_key", "webhook_secret", "verify_token") if not data.get(k)]
        if missing:
            raise ConfigurationError(f"the app secret lacks: {', '.join(missing)}")
        secrets = [str(data["webhook_secret"])]
        previous = data.get("previous_webhook_secret")
        until = data.get("previous_webhook_secret_valid_until")
        if previous and until:
            try:
                deadline = datetime.fromisoformat(str(until).replace("Z", "+00:00"))
            except ValueError as exc:
                raise ConfigurationError("previous_webhook_secret_valid_until is not ISO 8601") from exc
            if deadline.tzinfo is None:
                deadline = deadline.replace(tzinfo=UTC)
            if (now or datetime.now(UTC)) < deadline:
                secrets.append(str(previous))
        return cls(
            woosh_api_key=str(data["woosh_api_key"]),
            verify_token=str(data["verify_token"]),
            webhook_secrets=tuple(secrets),
        )


def get_secrets() -> AppSecrets:
    """Read through Powertools parameters, which caches the value for `secret_max_age_seconds`."""
    settings = get_settings()
    raw = _secrets_provider().get(settings.app_secret_id, max_age=settings.secret_max_age_seconds)
    return AppSecrets.from_json(raw)


@cache
def _secrets_provider() -> Any:
    from aws_lambda_powertools.utilities import parameters

    from lift_alerts.aws import client

    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def reset_caches() -> None:
    """Forget settings, clients and the cached secret (tests change the environment)."""
    from lift_alerts.aws import reset_clients

    get_settings.cache_clear()
    _secrets_provider.cache_clear()
    reset_clients()
