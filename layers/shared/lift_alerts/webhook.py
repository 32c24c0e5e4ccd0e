"""The webhook's rules (SPEC §6): handshake, authentication, parse everything, process, park."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lift_alerts.config import MISSING_WEBHOOK_CREDENTIALS, WEBHOOK_CREDENTIAL_KEYS, AppSecrets, Settings
from lift_alerts.observability import count, logger
from lift_alerts.parking import ParkingLot
from lift_alerts.repository import AlertRepository
from lift_alerts.updates import process_updates
from lift_alerts.whatsapp import NotAWebhookPayload, extract_updates

MAX_BODY_BYTES = 5 * 1024 * 1024
UNAUTHENTICATED = (
    "missing or invalid credentials (Authorization: Bearer, X-Hub-Signature-256 or X-Woosh-Signature)"
)


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any]


def subscription_challenge(params: dict[str, str], secrets: AppSecrets) -> str | None:
    """The challenge to echo when the verify token matches (compared in constant time)."""
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") != "subscribe" or "hub.challenge" not in params:
        return None
    if not hmac.compare_digest(token.encode("utf-8", "replace"), secrets.verify_token.encode()):
        return None
    return params["hub.challenge"]


class Credential(StrEnum):
    """The kinds of credential a POST /webhook can carry (SPEC §6), as logs and metrics name them."""

    BEARER = "bearer"  # Authorization: Bearer <callback token> (Woosh Bridge's forwarder)
    HUB_SIGNATURE = "hub_signature"  # X-Hub-Signature-256 (a direct Meta subscription)
    WOOSH_SIGNATURE = "woosh_signature"  # X-Woosh-Signature (the Bridge's status dispatcher)


# One metric per kind that verified, so an operator sees which path the Bridge really uses.
_VERIFIED_METRIC = {
    Credential.BEARER: "CredentialVerifiedBearer",
    Credential.HUB_SIGNATURE: "CredentialVerifiedHubSignature",
    Credential.WOOSH_SIGNATURE: "CredentialVerifiedWooshSignature",
}
# RFC 9110 auth-scheme (a token), then the credentials after whitespace.
_AUTHORIZATION = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \t]+(.*))?", re.DOTALL)


@dataclass(frozen=True)
class Authentication:
    """What the request's credentials proved: kinds that verified and kinds that were wrong."""

    verified: tuple[Credential, ...]
    wrong: tuple[Credential, ...]
    # An Authorization header with another scheme (Basic, AWS4-HMAC-SHA256...): not a
    # credential for this webhook, neither accepted nor held against the request.
    other_scheme_ignored: bool = False

    @property
    def authentic(self) -> bool:
        return bool(self.verified) and not self.wrong


def _bytes(text: str) -> bytes:
    # surrogatepass: a lone surrogate in a header is compared (and fails), never an exception.
    return text.encode("utf-8", "surrogatepass")


def _token_matches(given: str, tokens: tuple[str, ...]) -> bool:
    matched = False
    for token in tokens:  # the current token, and the previous one during a rotation
        matched |= hmac.compare_digest(_bytes(given), _bytes(token))
    return matched


def _signature_matches(raw: bytes, header: str, secrets: tuple[str, ...]) -> bool:
    """`sha256=<hex HMAC-SHA256 of raw>` with any of `secrets` (hex digits in any case)."""
    if not header.startswith("sha256="):
        return False
    given = header.removeprefix("sha256=").strip().lower().encode("ascii", "replace")
    matched = False
    for secret in secrets:  # the current secret, and the previous one during a rotation
        expected = hmac.new(_bytes(secret), raw, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, given)
    return matched


def authenticate(raw: bytes, headers: Mapping[str, str], secrets: AppSecrets) -> Authentication:
    """Check every credential the request carries (SPEC §6); compare all in constant time.

    A credential whose key is not configured (a signature when only the callback token is
    set) cannot verify, so it counts as wrong: the request is refused rather than half-checked.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    verified: list[Credential] = []
    wrong: list[Credential] = []
    other_scheme = False

    def check(kind: Credential, ok: bool) -> None:
        (verified if ok else wrong).append(kind)

    authorization = lowered.get("authorization")
    if authorization is not None:
        parsed = _AUTHORIZATION.fullmatch(authorization.strip())
        if parsed and parsed.group(1).lower() == "bearer":
            check(Credential.BEARER, _token_matches((parsed.group(2) or "").strip(), secrets.callback_tokens))
        else:
            other_scheme = True
    hub = lowered.get("x-hub-signature-256")
    if hub is not None:
        check(Credential.HUB_SIGNATURE, _signature_matches(raw, hub, secrets.webhook_secrets))
    woosh = lowered.get("x-woosh-signature")
    if woosh is not None:
        check(Credential.WOOSH_SIGNATURE, _signature_matches(raw, woosh, secrets.woosh_signature_secrets))
    return Authentication(tuple(verified), tuple(wrong), other_scheme)


def receive(
    raw: bytes,
    headers: Mapping[str, str],
    *,
    secrets: AppSecrets,
    repo: AlertRepository,
    parking: Callable[[], ParkingLot],
    settings: Settings,
    now: datetime,
) -> WebhookAnswer:
    """Handle one POST /webhook. `headers` are the request's (names in any case); neither
    they nor the raw body are ever logged, because the Authorization header carries a secret."""
    if not secrets.webhook_credentials_configured:
        # Nothing could be authenticated: 503 keeps the events in the sender's outbox.
        count("WebhookNotConfigured")
        logger.error(MISSING_WEBHOOK_CREDENTIALS, extra={"missing_keys": list(WEBHOOK_CREDENTIAL_KEYS)})
        return WebhookAnswer(503, {"message": "temporarily unavailable, please retry"})
    if len(raw) > MAX_BODY_BYTES:
        return WebhookAnswer(413, {"message": "body larger than 5 MiB"})
    auth = authenticate(raw, headers, secrets)
    if not auth.authentic:
        # The metric keeps its name: the SignatureRejected alarm watches every refused POST.
        count("SignatureRejected")
        logger.warning(
            "webhook authentication failed",
            extra={
                "credentials_verified": [kind.value for kind in auth.verified],
                "credentials_wrong": [kind.value for kind in auth.wrong],
                "other_authorization_scheme_ignored": auth.other_scheme_ignored,
            },
        )
        return WebhookAnswer(401, {"message": UNAUTHENTICATED})
    for kind in auth.verified:
        count(_VERIFIED_METRIC[kind])
    credential = ",".join(kind.value for kind in auth.verified)
    try:
        # Invalid UTF-8 is replaced, never stored as is (SPEC §6).
        payload = json.loads(raw.decode("utf-8", errors="replace"))
        updates = extract_updates(payload)
    except (ValueError, RecursionError, NotAWebhookPayload) as exc:
        count("WebhookRejected")
        reason = str(exc) if isinstance(exc, NotAWebhookPayload) else "body is not valid JSON"
        logger.warning("webhook body rejected", extra={"reason": reason, "credential": credential})
        return WebhookAnswer(400, {"message": reason})

    report = process_updates(updates, repo, settings, now)
    parked = 0
    if report.failed:
        try:
            parked = parking().park(report.failed)
        except Exception:
            logger.exception("could not park updates; asking the sender to retry")
            count("ParkingFailed")
            return WebhookAnswer(503, {"message": "temporarily unavailable, please retry"})
        count("UpdateParked", parked)
        logger.warning("updates parked for later", extra={"parked": parked})
    outcomes = dict(sorted(report.outcomes.items()))
    # The request's one INFO line: with what became of each update (its id, alert, outcome).
    logger.info(
        "webhook processed",
        extra={
            "updates": len(updates),
            "outcomes": outcomes,
            "parked": parked,
            "credential": credential,
            **report.log_fields(),
        },
    )
    return WebhookAnswer(200, {"received": len(updates), "outcomes": outcomes, "parked": parked})
