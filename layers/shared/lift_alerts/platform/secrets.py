"""The app secret (SPEC §3, §6): read through Powertools parameters, cached, parsed once per
value, never logged. Rotation: a previous webhook secret or callback token is accepted until
its `…_valid_until`, never after."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from lift_alerts.platform.config import ConfigurationError, get_settings, on_reset

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
    from lift_alerts.platform.observability import logger

    logger.error(
        MISSING_WEBHOOK_CREDENTIALS,
        extra={"missing_keys": list(WEBHOOK_CREDENTIAL_KEYS), "secret_first_read": True},
    )


def cursor_key() -> bytes:
    """The key that signs the desk list's `next` cursors (SPEC §13): derived from the secret
    named by CURSOR_SECRET_ID (random, made by CloudFormation with the stack), which only the
    desk function may read: the desk never holds the Woosh key or the webhook's secrets."""
    settings = get_settings()
    if not settings.cursor_secret_id:
        raise ConfigurationError("CURSOR_SECRET_ID is not set: the alert list cannot sign its cursors")
    raw = _secrets_provider().get(settings.cursor_secret_id, max_age=settings.secret_max_age_seconds)
    value = raw.encode() if isinstance(raw, str) else bytes(raw)
    return hashlib.sha256(b"lift-alerts list cursor key\0" + value).digest()


@cache
def _secrets_provider() -> Any:
    from aws_lambda_powertools.utilities import parameters

    from lift_alerts.platform.aws import client

    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def _forget_secret() -> None:
    global _parsed_secret  # noqa: PLW0603
    _parsed_secret = None
    _secrets_provider.cache_clear()
    _report_missing_webhook_credentials.cache_clear()


on_reset(_forget_secret)
