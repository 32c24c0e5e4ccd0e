"""The webhook's rules (SPEC §6): handshake, signature, parse everything, process, park."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lift_alerts.config import AppSecrets, Settings
from lift_alerts.observability import count, logger
from lift_alerts.parking import ParkingLot
from lift_alerts.repository import AlertRepository
from lift_alerts.updates import process_updates
from lift_alerts.whatsapp import NotAWebhookPayload, extract_updates

MAX_BODY_BYTES = 5 * 1024 * 1024


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


def signature_valid(raw: bytes, header: str | None, secrets: tuple[str, ...]) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    given = header.removeprefix("sha256=").strip().lower().encode("ascii", "replace")
    valid = False
    for secret in secrets:  # the current secret, and the previous one during a rotation
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()
        valid |= hmac.compare_digest(expected, given)
    return valid


def receive(
    raw: bytes,
    signature: str | None,
    *,
    secrets: AppSecrets,
    repo: AlertRepository,
    parking: Callable[[], ParkingLot],
    settings: Settings,
    now: datetime,
) -> WebhookAnswer:
    if len(raw) > MAX_BODY_BYTES:
        return WebhookAnswer(413, {"message": "body larger than 5 MiB"})
    if not signature_valid(raw, signature, secrets.webhook_secrets):
        count("SignatureRejected")
        logger.warning("webhook signature rejected", extra={"signature_present": bool(signature)})
        return WebhookAnswer(401, {"message": "missing or invalid X-Hub-Signature-256"})
    try:
        # Invalid UTF-8 is replaced, never stored as is (SPEC §6).
        payload = json.loads(raw.decode("utf-8", errors="replace"))
        updates = extract_updates(payload)
    except (ValueError, RecursionError, NotAWebhookPayload) as exc:
        count("WebhookRejected")
        reason = str(exc) if isinstance(exc, NotAWebhookPayload) else "body is not valid JSON"
        logger.warning("webhook body rejected", extra={"reason": reason})
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
    logger.info("webhook processed", extra={"updates": len(updates), "outcomes": outcomes, "parked": parked})
    return WebhookAnswer(200, {"received": len(updates), "outcomes": outcomes, "parked": parked})
