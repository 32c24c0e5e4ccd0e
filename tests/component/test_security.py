"""Security rules (issue 6): secret caching and rotation, webhook signatures, the handshake, and
personal data and secrets kept out of the logs."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from lift_alerts.platform import secrets
from lift_alerts.platform.aws import client
from lift_alerts.platform.config import reset_caches
from lift_alerts.platform.observability import logger, mask_phone
from tests.support.harness import LOCAL_SECRET, ROOT, http_event, lambda_context, to_result
from tests.support.logs import log_lines
from tests.support.secrets import (
    NEW_TOKEN,
    PREVIOUS,
    TOKEN,
    WEBHOOK_KEYS_ONLY,
    WOOSH_OWN,
    rotating,
    rotating_token,
    sign,
)

PHONE = "27824537125"
OTHER = "27831234567"
UNAUTHENTICATED = (
    "missing or invalid credentials (Authorization: Bearer, X-Hub-Signature-256 or X-Woosh-Signature)"
)


def put_secret(value: dict[str, Any]) -> None:
    """Store a new secret version and make the functions read it (a new container would)."""
    boto3.client("secretsmanager", region_name="af-south-1").put_secret_value(
        SecretId="lift-alerts-test-secret", SecretString=json.dumps(value)
    )
    reset_caches()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def table_items(service: Any) -> list[dict[str, Any]]:
    return list(service.ddb.scan(TableName=service.table)["Items"])  # test-side inspection only


def parked(service: Any) -> int:
    attributes = service.sqs.get_queue_attributes(
        QueueUrl=service.parked_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def tap_payload(service: Any) -> tuple[str, bytes]:
    """An alert with one delivered message and a signed-able tap on it (not yet posted)."""
    sent = service.send_alert([PHONE])
    message_id = sent["messages"][0]["message_id"]
    payload = service.woosh.tap(message_id, 2, post=False)["payload"]
    return sent["alert_id"], json.dumps(payload).encode()


class FrozenDatetime(datetime):
    moment = datetime(2026, 1, 1, tzinfo=UTC)

    @classmethod
    def now(cls, tz: Any = None) -> FrozenDatetime:  # type: ignore[override]
        return cls.fromtimestamp(cls.moment.timestamp(), tz)


# ---------------------------------------------------------------------------- rotation


def rotation_for_an_hour(secret: Callable[[str], dict[str, Any]]) -> datetime:
    """Put `secret(valid_until)` in Secrets Manager, valid until an hour from now; that deadline."""
    deadline = datetime.now(UTC) + timedelta(hours=1)
    put_secret(secret(iso(deadline)))
    return deadline


def test_rotation_accepts_previous_secret_until_valid_until_then_refuses(
    service: Any, tap_payload: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id, raw = tap_payload
    deadline = rotation_for_an_hour(rotating)

    # Before valid_until: the previous secret (Woosh not yet switched) still works.
    before = service.webhook(raw, secret=PREVIOUS)
    assert before.status == 200, before.text
    assert service.get_alert(alert_id).json()["first_response"]["choice"] == "entrapment"

    # After valid_until (the cached secret is re-evaluated on each call): refused, nothing written.
    FrozenDatetime.moment = deadline + timedelta(seconds=1)
    monkeypatch.setattr(secrets, "datetime", FrozenDatetime)
    payload = service.woosh.tap(service.woosh.sent[0].message_id, 1, post=False)["payload"]
    items = table_items(service)
    after = service.webhook(payload, secret=PREVIOUS)
    assert after.status == 401
    assert table_items(service) == items
    # The current secret is accepted throughout.
    assert service.webhook(payload).status == 200


def test_current_secret_always_accepted_and_previous_refused_when_window_is_over(
    service: Any, tap_payload: tuple[str, bytes]
) -> None:
    _alert_id, raw = tap_payload
    put_secret(rotating(iso(datetime.now(UTC) - timedelta(minutes=1))))
    assert service.webhook(raw, secret=PREVIOUS).status == 401
    assert service.webhook(raw).status == 200


def test_rotation_swap_procedure_never_drops_a_tap(service: Any, tap_payload: tuple[str, bytes]) -> None:
    """The documented procedure: new secret current + old as previous, then Woosh switches."""
    _alert_id, raw = tap_payload
    new = "the-new-webhook-secret"
    put_secret(
        {
            **LOCAL_SECRET,
            "webhook_secret": new,
            "previous_webhook_secret": LOCAL_SECRET["webhook_secret"],
            "previous_webhook_secret_valid_until": iso(datetime.now(UTC) + timedelta(hours=2)),
        }
    )
    assert service.webhook(raw).status == 200  # Woosh still signs with the old secret
    assert service.webhook(raw, secret=new).status == 200  # ... and after it switched
    put_secret({**LOCAL_SECRET, "webhook_secret": new})  # clean-up step: previous removed
    assert service.webhook(raw).status == 401
    assert service.webhook(raw, secret=new).status == 200


# ---------------------------------------------------------------------------- caching


@pytest.fixture
def secret_reads(service: Any) -> Iterator[list[str]]:
    """Names of every Secrets Manager GetSecretValue call the functions make."""
    calls: list[str] = []
    sm = client("secretsmanager")

    def count(model: Any, params: Any, **_: Any) -> None:
        calls.append(model.name)

    sm.meta.events.register("before-call.secrets-manager.GetSecretValue", count)
    yield calls
    sm.meta.events.unregister("before-call.secrets-manager.GetSecretValue", count)


def test_secret_is_read_once_and_cached_across_many_calls(service: Any, secret_reads: list[str]) -> None:
    sent = service.send_alert([PHONE])
    message_id = sent["messages"][0]["message_id"]
    for index in range(25):
        assert service.tap(message_id, index % 3).status == 200
        assert service.status(message_id, "delivered").status == 200
    handshake = http_event(
        "GET",
        "/webhook",
        query={
            "hub.mode": "subscribe",
            "hub.verify_token": LOCAL_SECRET["verify_token"],
            "hub.challenge": "c",
        },
    )
    for _ in range(5):
        assert service.call("webhook", handshake).status == 200
    assert secret_reads == ["GetSecretValue"]


def test_secret_is_read_again_after_its_max_age(
    service: Any, secret_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    reset_caches()
    sm = client("secretsmanager")
    sm.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda model, **_: secret_reads.append(model.name)
    )
    sent = service.send_alert([PHONE])
    for _ in range(3):
        assert service.tap(sent["messages"][0]["message_id"], 0).status == 200
    assert len(secret_reads) >= 4  # no caching when the operator asks for none


def test_a_rotated_secret_is_used_as_soon_as_it_is_read_again(
    service: Any, tap_payload: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parsed secret is kept only while Secrets Manager's value is the same: no reset here."""
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    reset_caches()
    _alert_id, raw = tap_payload
    assert service.webhook(raw).status == 200
    boto3.client("secretsmanager", region_name="af-south-1").put_secret_value(
        SecretId="lift-alerts-test-secret",
        SecretString=json.dumps({**LOCAL_SECRET, "webhook_secret": "the-new-webhook-secret"}),
    )
    assert service.webhook(raw).status == 401
    assert service.webhook(raw, secret="the-new-webhook-secret").status == 200


def test_secret_unavailable_is_a_503_so_the_sender_retries(service: Any) -> None:
    boto3.client("secretsmanager", region_name="af-south-1").delete_secret(
        SecretId="lift-alerts-test-secret", ForceDeleteWithoutRecovery=True
    )
    reset_caches()
    result = service.webhook({"entry": []})
    assert result.status == 503
    assert "secret" not in result.text.lower()


# ---------------------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("sha256=", id="prefix-only"),
        pytest.param("sha256=" + "0" * 64, id="wrong-digest"),
        pytest.param("wrong-secret", id="signed-with-another-secret"),
        pytest.param("other-body", id="signature-of-another-body"),
        pytest.param("sha1=", id="sha1-prefix"),
        pytest.param("SHA256=", id="uppercase-prefix"),
        pytest.param("bare", id="no-prefix"),
        pytest.param("sha256 =", id="spaced-prefix"),
        pytest.param("truncated", id="truncated-digest"),
        pytest.param("sha256=ü", id="non-ascii"),
    ],
)
def test_bad_signature_is_401_and_nothing_is_read_or_written(
    service: Any, tap_payload: tuple[str, bytes], header: str | None
) -> None:
    alert_id, raw = tap_payload
    good = sign(raw).removeprefix("sha256=")
    value = {
        "wrong-secret": sign(raw, "not-the-secret"),
        "other-body": sign(raw + b" "),
        "sha1=": "sha1=" + good,
        "SHA256=": "SHA256=" + good,
        "bare": good,
        "sha256 =": "sha256 =" + good,
        "truncated": "sha256=" + good[:-1],
    }.get(header or "", header)
    before = table_items(service)
    headers = {"X-Hub-Signature-256": value} if value is not None else {}
    result = service.webhook(raw, sign=False, headers=headers)
    assert result.status == 401
    assert result.json() == {"message": UNAUTHENTICATED}
    assert table_items(service) == before
    assert parked(service) == 0
    assert service.get_alert(alert_id).json()["responses"] == []
    assert service.events("Alert Response Received") == []


@pytest.mark.parametrize(
    "name", ["X-Hub-Signature-256", "x-hub-signature-256", "X-HUB-SIGNATURE-256", "x-Hub-Signature-256"]
)
def test_signature_header_name_is_case_insensitive(
    service: Any, tap_payload: tuple[str, bytes], name: str
) -> None:
    alert_id, raw = tap_payload
    result = service.webhook(raw, sign=False, headers={name: sign(raw)})
    assert result.status == 200, result.text
    assert service.get_alert(alert_id).json()["state"] == "answered"


def test_uppercase_hex_digest_is_the_same_signature(service: Any, tap_payload: tuple[str, bytes]) -> None:
    alert_id, raw = tap_payload
    upper = "sha256=" + sign(raw).removeprefix("sha256=").upper()
    assert service.webhook(raw, sign=False, headers={"X-Hub-Signature-256": upper}).status == 200
    assert service.get_alert(alert_id).json()["state"] == "answered"


def test_base64_body_is_verified_over_the_decoded_bytes(service: Any, tap_payload: tuple[str, bytes]) -> None:
    alert_id, raw = tap_payload
    # Signed over the base64 text instead of the raw body: refused.
    wrong = sign(base64.b64encode(raw))
    refused = service.webhook(raw, sign=False, headers={"X-Hub-Signature-256": wrong}, base64_body=True)
    assert refused.status == 401
    assert service.get_alert(alert_id).json()["responses"] == []
    accepted = service.webhook(raw, base64_body=True)
    assert accepted.status == 200, accepted.text
    assert service.get_alert(alert_id).json()["first_response"]["choice"] == "entrapment"


def test_invalid_base64_body_is_refused_without_processing(service: Any) -> None:
    event = http_event("POST", "/webhook", body="%%%not base64%%%", headers={"X-Hub-Signature-256": "x"})
    event["isBase64Encoded"] = True
    result = service.call("webhook", event)
    assert result.status in {400, 401}
    assert parked(service) == 0


def test_signature_check_comes_before_the_size_and_json_checks_leak_nothing(service: Any) -> None:
    """An unsigned body is 401 whatever it holds: the sender learns nothing about parsing."""
    for raw in [b"not json", b"{}", json.dumps({"entry": [{"changes": []}]}).encode()]:
        assert service.webhook(raw, sign=False).status == 401
    # Signed garbage is a 400, never a 5xx.
    assert service.webhook(b"not json").status == 400


# ---------------------------------------------------------------------------- handshake


def handshake(service: Any, query: dict[str, str] | None) -> Any:
    return service.call("webhook", http_event("GET", "/webhook", query=query))


GOOD = {"hub.mode": "subscribe", "hub.verify_token": LOCAL_SECRET["verify_token"], "hub.challenge": "8675309"}


def test_handshake_echoes_the_challenge_as_text(service: Any) -> None:
    result = handshake(service, GOOD)
    assert result.status == 200
    assert result.text == "8675309"
    assert result.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({**GOOD, "hub.verify_token": "wrong"}, id="bad-token"),
        pytest.param({**GOOD, "hub.verify_token": LOCAL_SECRET["verify_token"] + "x"}, id="token-prefix"),
        pytest.param({**GOOD, "hub.verify_token": ""}, id="empty-token"),
        pytest.param({**GOOD, "hub.verify_token": "ü"}, id="non-ascii-token"),
        pytest.param({**GOOD, "hub.mode": "unsubscribe"}, id="bad-mode"),
        pytest.param({k: v for k, v in GOOD.items() if k != "hub.verify_token"}, id="no-token"),
        pytest.param({k: v for k, v in GOOD.items() if k != "hub.mode"}, id="no-mode"),
        pytest.param({k: v for k, v in GOOD.items() if k != "hub.challenge"}, id="no-challenge"),
        pytest.param(None, id="no-params"),
    ],
)
def test_handshake_refused(service: Any, query: dict[str, str] | None) -> None:
    result = handshake(service, query)
    assert result.status == 403
    assert "8675309" not in result.text
    assert LOCAL_SECRET["verify_token"] not in result.text


# ---------------------------------------------------------------------------- personal data, secrets, logs


def test_phone_numbers_masked_and_secrets_absent_in_logs(
    service: Any, log_output: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    service.woosh.fail_next(OTHER, error="invalid_phone")
    sent = service.post_alert(
        {
            "ticket_id": "EMG-1",
            "lift_id": "LIFT-A",
            "recipients": ["+" + PHONE, OTHER],
            "escalation": {"recipients": ["+27825550000"]},
        }
    ).json()
    message_id = sent["messages"][0]["message_id"]
    assert service.tap(message_id, 2).status == 200
    assert service.tap(message_id, 0, with_context=False).status == 200
    assert service.status(message_id, "read").status == 200
    assert service.webhook({"entry": []}, sign=False).status == 401
    assert service.webhook({"entry": []}, secret="not-the-secret").status == 401
    assert handshake(service, GOOD).status == 200
    assert handshake(service, {**GOOD, "hub.verify_token": "nope"}).status == 403
    service.publish()
    # The shared logger masks whatever a handler might log by accident.
    logger.info("accidental", extra={"to": "+" + PHONE, "note": f"call {OTHER} now"})
    out = log_output.getvalue() + capfd.readouterr().out  # logs, and the metrics Powertools prints
    lines = log_lines(out)
    assert lines, "no JSON log lines captured"
    assert "webhook processed" in out
    for number in (PHONE, OTHER, "27825550000"):
        assert number not in out
    assert mask_phone(PHONE) in out
    assert mask_phone(OTHER) in out
    for value in LOCAL_SECRET.values():
        assert value not in out
    assert "8675309" not in out  # the challenge is not logged with the token around it
    assert "LIFT ALARM" not in out  # no message bodies
    assert "Tap Test, Maintenance or Entrapment" not in out


# ---------------------------------------------------------------------------- webhook credentials (SPEC §6)


def sample_tap(message_id: str, button_id: str, tap_id: str) -> bytes:
    """/work/shared/samples/tap_interactive.json, with the ids our send really used."""
    sample = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "27123456789",
                                "phone_number_id": "753321277868753",
                            },
                            "contacts": [{"profile": {"name": "John Smith"}, "wa_id": PHONE}],
                            "messages": [
                                {
                                    "from": PHONE,
                                    "id": tap_id,
                                    "timestamp": str(int(datetime.now(UTC).timestamp())),
                                    "type": "interactive",
                                    "interactive": {
                                        "type": "button_reply",
                                        "button_reply": {"id": button_id, "title": "Entrapment"},
                                    },
                                    "context": {"from": "27123456789", "id": message_id},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    return json.dumps(sample, indent=2).encode()


@pytest.fixture
def bridge_tap(service: Any) -> tuple[str, bytes]:
    """An alert sent to one person and the Entrapment tap the Bridge would forward for it."""
    sent = service.send_alert([PHONE])
    message_id = sent["messages"][0]["message_id"]
    entrapment = service.woosh.message(message_id).buttons[2][0]
    return sent["alert_id"], sample_tap(message_id, entrapment, "wamid.TAP0001")


def bearer(token: str = TOKEN, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def aws_calls() -> list[str]:
    """Every DynamoDB and SQS call the functions make from now on (a 401 makes none)."""
    calls: list[str] = []
    for name in ("dynamodb", "sqs"):
        client(name).meta.events.register(  # type: ignore[call-overload]
            "before-call", lambda model, **_: calls.append(model.name)
        )
    return calls


def assert_answered(service: Any, alert_id: str) -> None:
    alert = service.get_alert(alert_id).json()
    assert alert["first_response"]["choice"] == "entrapment"
    assert [e["alert_id"] for e in service.details("Alert Response Received")] == [alert_id]


def assert_accepted(service: Any, alert_id: str, raw: bytes, **webhook: Any) -> None:
    """The POST of `raw` (with these `Service.webhook` arguments) is a 200 and the tap is answered."""
    result = service.webhook(raw, **webhook)
    assert result.status == 200, result.text
    assert_answered(service, alert_id)


def assert_untouched(service: Any, alert_id: str, items: list[dict[str, Any]], calls: list[str]) -> None:
    assert calls == []  # nothing read, nothing written, nothing parked
    assert table_items(service) == items
    assert parked(service) == 0
    assert service.get_alert(alert_id).json()["responses"] == []
    assert service.events("Alert Response Received") == []


@contextmanager
def leaves_untouched(service: Any, alert_id: str) -> Iterator[None]:
    """The requests made inside reach nothing: no AWS call, no item, nothing parked, no event."""
    items = table_items(service)
    calls = aws_calls()
    yield
    assert_untouched(service, alert_id, items, calls)


def assert_refused(service: Any, alert_id: str, raw: bytes, attempts: list[dict[str, str]]) -> None:
    """Each attempt (the headers of an unsigned POST of `raw`) is a 401 that reaches nothing."""
    with leaves_untouched(service, alert_id):
        for headers in attempts:
            assert service.webhook(raw, sign=False, headers=headers).status == 401, headers


def metric_names(out: str) -> list[str]:
    """Names of the metrics in the EMF blobs Powertools printed, one per request and name."""
    names: list[str] = []
    for line in out.splitlines():
        if line.startswith('{"_aws"'):
            blob = json.loads(line)
            names += [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


def test_bearer_token_alone_is_accepted_like_the_real_bridge_sends_it(
    service: Any, bridge_tap: tuple[str, bytes], capfd: pytest.CaptureFixture[str]
) -> None:
    alert_id, raw = bridge_tap
    capfd.readouterr()
    headers = {**bearer(), "User-Agent": "node", "Content-Type": "application/json"}
    result = service.webhook(raw, sign=False, headers=headers)
    assert result.status == 200, result.text
    assert result.json()["outcomes"] == {"tap_matched_context": 1}
    names = metric_names(capfd.readouterr().out)
    assert names.count("CredentialVerifiedBearer") == 1
    assert "CredentialVerifiedHubSignature" not in names
    assert_answered(service, alert_id)


def test_each_verified_credential_kind_is_counted(
    service: Any, bridge_tap: tuple[str, bytes], capfd: pytest.CaptureFixture[str]
) -> None:
    _alert_id, raw = bridge_tap
    capfd.readouterr()
    headers = {**bearer(), "X-Woosh-Signature": sign(raw)}
    assert service.webhook(raw, headers=headers).status == 200
    assert service.webhook(raw, sign=False, headers=bearer("wrong")).status == 401
    names = metric_names(capfd.readouterr().out)
    for kind in ("Bearer", "HubSignature", "WooshSignature"):
        assert names.count(f"CredentialVerified{kind}") == 1, names
    assert names.count("SignatureRejected") == 1


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_bearer_scheme_name_in_any_case(service: Any, bridge_tap: tuple[str, bytes], scheme: str) -> None:
    alert_id, raw = bridge_tap
    assert_accepted(service, alert_id, raw, sign=False, headers={"authorization": f"{scheme} {TOKEN}"})


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(f"Bearer {TOKEN}x", id="token-plus-a-character"),
        pytest.param(f"Bearer {TOKEN[:-1]}", id="token-prefix"),
        pytest.param(f"Bearer {TOKEN.upper()}", id="token-other-case"),
        pytest.param("Bearer not-the-callback-token", id="another-token"),
        pytest.param("Bearer", id="scheme-without-token"),
        pytest.param(f"Bearer {LOCAL_SECRET['webhook_secret']}", id="the-webhook-secret-as-token"),
        pytest.param("Bearer ü", id="non-ascii"),
    ],
)
def test_wrong_bearer_is_401_even_with_a_valid_hub_signature(
    service: Any, bridge_tap: tuple[str, bytes], authorization: str
) -> None:
    alert_id, raw = bridge_tap
    with leaves_untouched(service, alert_id):
        headers = {"Authorization": authorization, "X-Hub-Signature-256": sign(raw)}
        result = service.webhook(raw, sign=False, headers=headers)
        assert result.status == 401
        assert result.json() == {"message": UNAUTHENTICATED}


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic " + base64.b64encode(f"woosh:{TOKEN}".encode()).decode(), id="basic"),
        pytest.param(f"Token {TOKEN}", id="the-right-token-under-another-scheme"),
        pytest.param(TOKEN, id="the-token-without-a-scheme"),
        pytest.param(f"Bearer,{TOKEN}", id="no-space-after-the-scheme"),
    ],
)
def test_another_authorization_scheme_is_not_a_credential(
    service: Any, bridge_tap: tuple[str, bytes], authorization: str
) -> None:
    alert_id, raw = bridge_tap
    # Alone it proves nothing: 401, nothing read or written.
    with leaves_untouched(service, alert_id):
        alone = service.webhook(raw, sign=False, headers={"Authorization": authorization})
        assert alone.status == 401
    # Beside a valid signature it is ignored, not held against the request.
    assert_accepted(service, alert_id, raw, headers={"Authorization": authorization})


def test_bearer_and_valid_signature_together_are_accepted(
    service: Any, bridge_tap: tuple[str, bytes]
) -> None:
    alert_id, raw = bridge_tap
    assert service.webhook(raw, headers=bearer()).status == 200
    assert_answered(service, alert_id)


def test_valid_bearer_with_a_wrong_signature_is_401(service: Any, bridge_tap: tuple[str, bytes]) -> None:
    alert_id, raw = bridge_tap
    wrong = [
        {**bearer(), name: sign(raw, "not-the-secret")}
        for name in ("X-Hub-Signature-256", "X-Woosh-Signature")
    ]
    assert_refused(service, alert_id, raw, wrong)


def woosh_signed(raw: bytes, secret: str) -> dict[str, str]:
    return {"X-Woosh-Signature": sign(raw, secret), "X-Woosh-Event": "message.status"}


def test_woosh_signature_with_the_woosh_signing_secret(service: Any, bridge_tap: tuple[str, bytes]) -> None:
    alert_id, raw = bridge_tap
    put_secret({**LOCAL_SECRET, "woosh_signing_secret": WOOSH_OWN})
    # With its own secret configured, the webhook secret no longer signs X-Woosh-Signature.
    wrong = (LOCAL_SECRET["webhook_secret"], "not-the-secret")
    assert_refused(service, alert_id, raw, [woosh_signed(raw, secret) for secret in wrong])
    assert_accepted(service, alert_id, raw, sign=False, headers={"x-woosh-signature": sign(raw, WOOSH_OWN)})


def test_woosh_signature_falls_back_to_the_webhook_secret(
    service: Any, bridge_tap: tuple[str, bytes]
) -> None:
    alert_id, raw = bridge_tap
    assert_refused(
        service, alert_id, raw, [woosh_signed(raw, secret) for secret in (WOOSH_OWN, "not-the-secret")]
    )
    headers = woosh_signed(raw, LOCAL_SECRET["webhook_secret"])
    assert_accepted(service, alert_id, raw, sign=False, headers=headers)


def test_callback_token_rotation_accepts_the_previous_token_until_valid_until_never_after(
    service: Any, bridge_tap: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id, raw = bridge_tap
    deadline = rotation_for_an_hour(rotating_token)

    # Before valid_until: the Bridge may still send the previous token, or already the new one.
    assert service.webhook(raw, sign=False, headers=bearer(TOKEN)).status == 200
    assert service.webhook(raw, sign=False, headers=bearer(NEW_TOKEN)).status == 200
    assert_answered(service, alert_id)

    # From valid_until on (the cached secret is re-evaluated on each call): refused.
    FrozenDatetime.moment = deadline + timedelta(seconds=1)
    monkeypatch.setattr(secrets, "datetime", FrozenDatetime)
    message_id = service.woosh.sent[0].message_id
    later = sample_tap(message_id, service.woosh.message(message_id).buttons[0][0], "wamid.TAP0002")
    items = table_items(service)
    calls = aws_calls()
    assert service.webhook(later, sign=False, headers=bearer(TOKEN)).status == 401
    assert table_items(service) == items
    assert calls == []
    assert service.webhook(later, sign=False, headers=bearer(NEW_TOKEN)).status == 200


def test_previous_callback_token_without_a_deadline_or_after_it_is_refused(
    service: Any, bridge_tap: tuple[str, bytes]
) -> None:
    _alert_id, raw = bridge_tap
    for secret in (rotating_token(None), rotating_token(iso(datetime.now(UTC) - timedelta(minutes=1)))):
        put_secret(secret)
        assert service.webhook(raw, sign=False, headers=bearer(TOKEN)).status == 401
    assert service.webhook(raw, sign=False, headers=bearer(NEW_TOKEN)).status == 200


def test_neither_callback_token_nor_webhook_secret_is_503_and_logged_by_key_name(
    service: Any, bridge_tap: tuple[str, bytes], log_output: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    alert_id, raw = bridge_tap
    put_secret({**WEBHOOK_KEYS_ONLY, "callback_token": "", "woosh_signing_secret": WOOSH_OWN})
    with leaves_untouched(service, alert_id):
        for headers in (bearer(), {"X-Hub-Signature-256": sign(raw)}, woosh_signed(raw, WOOSH_OWN), {}):
            result = service.webhook(raw, sign=False, headers=headers)
            assert result.status == 503, headers  # the sender keeps the tap and retries
            assert result.json() == {"message": "temporarily unavailable, please retry"}

    lines = log_lines(log_output.getvalue())
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 5  # the cold-start error at the first read, then one per POST
    for line in errors:
        assert "callback_token" in line["message"]
        assert "webhook_secret" in line["message"]
        assert line["missing_keys"] == ["callback_token", "webhook_secret"]
    assert [line.get("secret_first_read") for line in errors] == [True, None, None, None, None]
    out = log_output.getvalue() + capfd.readouterr().out
    for value in [*WEBHOOK_KEYS_ONLY.values(), TOKEN, WOOSH_OWN]:
        assert value not in out

    # The send API needs neither key and keeps working; the handshake too.
    assert service.send_alert([OTHER])["messages"][0]["status"] == "accepted"
    assert handshake(service, GOOD).status == 200


def test_the_cold_start_error_is_logged_at_the_first_read_of_the_secret(
    service: Any, log_output: io.StringIO
) -> None:
    put_secret(WEBHOOK_KEYS_ONLY)
    for _ in range(3):
        assert handshake(service, GOOD).status == 200  # any first read, not only a POST
    service.send_alert([PHONE])
    errors = [line for line in log_lines(log_output.getvalue()) if line["level"] == "ERROR"]
    assert [(e["missing_keys"], e["secret_first_read"]) for e in errors] == [
        (["callback_token", "webhook_secret"], True)
    ]


def test_only_callback_token_configured_refuses_signatures_and_accepts_bearer(
    service: Any, bridge_tap: tuple[str, bytes]
) -> None:
    alert_id, raw = bridge_tap
    put_secret({**WEBHOOK_KEYS_ONLY, "callback_token": TOKEN})
    webhook_secret = LOCAL_SECRET["webhook_secret"]
    signed = [
        {"X-Hub-Signature-256": sign(raw, webhook_secret)},
        woosh_signed(raw, webhook_secret),
        # A signature nothing can check is not a credential that verifies: refused, not skipped.
        {**bearer(), "X-Hub-Signature-256": sign(raw, webhook_secret)},
    ]
    assert_refused(service, alert_id, raw, signed)
    assert_accepted(service, alert_id, raw, sign=False, headers=bearer())


def test_only_webhook_secret_configured_refuses_bearer_and_accepts_signatures(
    service: Any, bridge_tap: tuple[str, bytes]
) -> None:
    alert_id, raw = bridge_tap
    put_secret({**WEBHOOK_KEYS_ONLY, "webhook_secret": LOCAL_SECRET["webhook_secret"]})
    assert_refused(service, alert_id, raw, [bearer()])
    assert service.webhook(raw).status == 200
    assert_answered(service, alert_id)


def test_bearer_post_never_logs_the_token_nor_the_event(
    service: Any,
    bridge_tap: tuple[str, bytes],
    log_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even with Powertools told to log events and to run in dev mode (it would print them)."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    spec = importlib.util.spec_from_file_location("webhook_app_log_event", ROOT / "functions/webhook/app.py")
    assert spec
    assert spec.loader
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    caplog.set_level(logging.DEBUG)  # every logger, restored after the test
    caplog.set_level(logging.DEBUG, logger=logger.name)

    alert_id, raw = bridge_tap
    wrong = "Bearer a-wrong-token-somebody-guessed"
    for authorization, status in [(f"Bearer {TOKEN}", 200), (wrong, 401), (f"Bearer {TOKEN}", 200)]:
        event = http_event(
            "POST", "/webhook", body=raw, headers={"Authorization": authorization, "User-Agent": "node"}
        )
        result = to_result(handler.lambda_handler(event, lambda_context("webhook")))
        assert result.status == status, result.text
    assert_answered(service, alert_id)

    own = log_output.getvalue() + capfd.readouterr().out  # the service's log lines and metrics
    for secret in (TOKEN, "a-wrong-token-somebody-guessed"):
        assert secret not in own + caplog.text  # nor in any library's debug output
    # Neither the event nor its headers: botocore's own signed requests are the only other
    # "Authorization" in caplog, so the header name is checked in the service's lines only.
    assert "authorization" not in own.lower().replace("other_authorization_scheme_ignored", "")
    assert "button_reply" not in own
    # POWERTOOLS_DEV turns metrics off: the summary is a logger line (either way it is in `own`).
    processed = [line for line in log_lines(own) if line.get("message") == "webhook processed"]
    assert [line["credential"] for line in processed] == ["bearer", "bearer"]
