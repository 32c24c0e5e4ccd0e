"""POST /webhook bypasses the Powertools resolver (functions/webhook/app.py `_post_webhook`):
its answers must be exactly the resolver's, for every kind of request (SPEC §6).

Each case is answered both ways, through `lambda_handler` (the direct route) and through
`app.resolve` (the route and error handlers the resolver would use), and compared whole:
status, headers, body, base64 flag and cookies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.woosh_standin import signature_header
from tests.support.harness import handler_module, http_event, lambda_context
from tests.support.service import LOCAL_SECRET, Service


def signed(raw: bytes, **options: Any) -> dict[str, Any]:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_header(raw, LOCAL_SECRET["webhook_secret"]),
    }
    return http_event("POST", "/webhook", body=raw, headers=headers, **options)


def both_ways(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    handler = handler_module("webhook")
    direct = handler.lambda_handler(event, lambda_context("webhook"))
    resolved = handler.app.resolve(event, lambda_context("webhook"))
    return direct, resolved


def test_a_tap_is_answered_as_the_resolver_would(service: Service) -> None:
    sent = service.send_alert(["27824537125"])
    payload = service.woosh.tap(sent["messages"][0]["message_id"], 2, post=False)["payload"]
    event = signed(json.dumps(payload).encode())
    first = handler_module("webhook").lambda_handler(event, lambda_context("webhook"))
    assert json.loads(first["body"])["outcomes"] == {"tap_matched_context": 1}
    direct, resolved = both_ways(event)  # the same tap again: a duplicate both ways
    assert json.loads(direct["body"])["outcomes"] == {"tap_duplicate": 1}
    assert direct == resolved


@pytest.mark.parametrize(
    "case",
    ["not_json", "not_a_payload", "bad_base64", "unsigned", "wrong_signature"],
)
def test_refused_bodies_are_answered_as_the_resolver_would(service: Service, case: str) -> None:
    raw = b'{"entry": [' if case == "not_json" else b'{"hello": "world"}'
    event = signed(raw)
    if case == "bad_base64":
        event = {**event, "body": "not base64 at all!", "isBase64Encoded": True}
    elif case == "unsigned":
        event = http_event("POST", "/webhook", body=raw, headers={"Content-Type": "application/json"})
    elif case == "wrong_signature":
        event["headers"]["x-hub-signature-256"] = "sha256=" + "0" * 64
    direct, resolved = both_ways(event)
    assert direct == resolved
    assert direct["statusCode"] == {"bad_base64": 400, "unsigned": 401, "wrong_signature": 401}.get(case, 400)


def test_a_fault_is_answered_503_as_the_resolver_would(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = handler_module("webhook")

    def secrets_unreachable() -> Any:
        raise ConnectionError("Secrets Manager could not be reached")

    monkeypatch.setattr(handler, "get_secrets", secrets_unreachable)
    raw = b'{"entry": []}'
    direct, resolved = both_ways(signed(raw))
    assert direct == resolved
    assert direct["statusCode"] == 503
    assert json.loads(direct["body"]) == {"message": "temporarily unavailable, please retry"}
