"""The webhook's rules (SPEC §6): handshake, authentication, parse everything, process, park."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.domain.inbound_parsing import NotAWebhookPayload, extract_updates
from lift_alerts.flows.apply_updates import process_updates
from lift_alerts.flows.webhook_auth import Credential, authenticate, subscription_challenge
from lift_alerts.platform.aws import client
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger, request_summary
from lift_alerts.platform.secrets import (
    MISSING_WEBHOOK_CREDENTIALS,
    WEBHOOK_CREDENTIAL_KEYS,
    AppSecrets,
    get_secrets,
)
from lift_alerts.store.parking import ParkingLot
from lift_alerts.store.repositories import Repositories

MAX_BODY_BYTES = 5 * 1024 * 1024
UNAUTHENTICATED = (
    "missing or invalid credentials (Authorization: Bearer, X-Hub-Signature-256 or X-Woosh-Signature)"
)


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any]


# One metric per kind that verified, so an operator sees which path the Bridge really uses.
_VERIFIED_METRIC = {
    Credential.BEARER: "CredentialVerifiedBearer",
    Credential.HUB_SIGNATURE: "CredentialVerifiedHubSignature",
    Credential.WOOSH_SIGNATURE: "CredentialVerifiedWooshSignature",
}


def handshake(params: dict[str, str]) -> str | None:
    """GET /webhook: the challenge to echo when the verify token matches, else None."""
    return subscription_challenge(params, get_secrets())


def receive_post(raw: bytes, headers: Mapping[str, str], settings: Settings) -> WebhookAnswer:
    """POST /webhook, now, with this container's secret, repositories and parking queue."""
    return receive(
        raw,
        headers,
        secrets=get_secrets(),
        repos=Repositories.of(settings.alerts_table),
        parking=lambda: ParkingLot(settings.parked_queue_url, client("sqs")),
        settings=settings,
        now=utc_now(),
    )


def receive(
    raw: bytes,
    headers: Mapping[str, str],
    *,
    secrets: AppSecrets,
    repos: Repositories,
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

    report = process_updates(updates, repos, settings, now)
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
    request_summary(
        "webhook processed",
        updates=len(updates),
        outcomes=outcomes,
        parked=parked,
        credential=credential,
        **report.log_fields(),
    )
    return WebhookAnswer(200, {"received": len(updates), "outcomes": outcomes, "parked": parked})
