"""Who may post to the webhook (SPEC §6): the subscription handshake's verify token, and the
credentials a POST carries (the Bridge's bearer token, Meta's X-Hub-Signature-256, the
Bridge's X-Woosh-Signature), every one checked and compared in constant time. Pure."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from lift_alerts.platform.secrets import AppSecrets


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
