"""The app secret's values as tests put them in Secrets Manager (the test secret, a rotation)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.support.harness import LOCAL_SECRET

PREVIOUS = "the-previous-webhook-secret"
TOKEN = LOCAL_SECRET["callback_token"]
NEW_TOKEN = "the-new-callback-token"
WOOSH_OWN = "woosh-own-signing-secret"
WEBHOOK_KEYS_ONLY = {k: v for k, v in LOCAL_SECRET.items() if k not in ("callback_token", "webhook_secret")}


def rotating(until: str, **extra: Any) -> dict[str, Any]:
    """The secret during a webhook-secret rotation: the previous secret still valid until `until`."""
    return {
        **LOCAL_SECRET,
        "previous_webhook_secret": PREVIOUS,
        "previous_webhook_secret_valid_until": until,
        **extra,
    }


def rotating_token(until: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {**LOCAL_SECRET, "callback_token": NEW_TOKEN, "previous_callback_token": TOKEN}
    if until is not None:
        value["previous_callback_token_valid_until"] = until
    return value


def sign(raw: bytes, secret: str = LOCAL_SECRET["webhook_secret"]) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
