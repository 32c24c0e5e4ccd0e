"""Security rules (issue 6): secret caching and rotation, webhook signatures, the handshake, and
personal data and secrets kept out of the logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from lift_alerts import config
from lift_alerts.aws import client
from lift_alerts.config import AppSecrets, ConfigurationError, reset_caches
from lift_alerts.observability import logger, mask_phone
from tests.support.harness import LOCAL_SECRET, http_event

PHONE = "27824537125"
OTHER = "27831234567"
PREVIOUS = "the-previous-webhook-secret"


def sign(raw: bytes, secret: str = LOCAL_SECRET["webhook_secret"]) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


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


def rotating(until: str, **extra: Any) -> dict[str, Any]:
    return {
        **LOCAL_SECRET,
        "previous_webhook_secret": PREVIOUS,
        "previous_webhook_secret_valid_until": until,
        **extra,
    }


def test_rotation_window_in_the_secret_model() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    current = LOCAL_SECRET["webhook_secret"]
    for until, accepted in [
        ("2026-01-01T12:00:01Z", (current, PREVIOUS)),
        ("2026-01-01T14:00:00+02:00", (current,)),  # the same instant as 12:00Z: expired
        ("2026-01-01T12:00:00", (current,)),  # naive means UTC
        ("2026-01-01T11:59:59Z", (current,)),
        ("2026-01-02T00:00:00+00:00", (current, PREVIOUS)),
    ]:
        assert AppSecrets.from_json(json.dumps(rotating(until)), now=now).webhook_secrets == accepted, until
    # Without a deadline the previous secret is never accepted (no open-ended grace).
    no_deadline = {**LOCAL_SECRET, "previous_webhook_secret": PREVIOUS}
    assert AppSecrets.from_json(no_deadline, now=now).webhook_secrets == (current,)
    with pytest.raises(ConfigurationError):
        AppSecrets.from_json(rotating("next tuesday"), now=now)


def test_rotation_accepts_previous_secret_until_valid_until_then_refuses(
    service: Any, tap_payload: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id, raw = tap_payload
    deadline = datetime.now(UTC) + timedelta(hours=1)
    put_secret(rotating(iso(deadline)))

    # Before valid_until: the previous secret (Woosh not yet switched) still works.
    before = service.webhook(raw, secret=PREVIOUS)
    assert before.status == 200, before.text
    assert service.get_alert(alert_id).json()["first_response"]["choice"] == "entrapment"

    # After valid_until (the cached secret is re-evaluated on each call): refused, nothing written.
    FrozenDatetime.moment = deadline + timedelta(seconds=1)
    monkeypatch.setattr(config, "datetime", FrozenDatetime)
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
    assert result.json() == {"message": "missing or invalid X-Hub-Signature-256"}
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


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every line the functions' Powertools logger writes, formatted exactly as Lambda gets it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)
    target.addHandler(handler)
    yield stream
    target.removeHandler(handler)


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


def test_mask_phone_masks_numbers_but_not_ids() -> None:
    assert mask_phone(PHONE) == "2782****125"
    assert mask_phone("+" + PHONE) == "2782****125"
    assert mask_phone(json.dumps({"to": PHONE, "wa": "+27831234567"})) == (
        '{"to": "2782****125", "wa": "2783****567"}'
    )
    assert mask_phone("12345678") == "12***678"
    for keep in [
        "wamid.HBgL27824537125FQIAERgS",
        "a" * 32,
        "1234567",
        "EMG-2024-001",
        "2026-11-24T10:00:00Z",
    ]:
        assert mask_phone(keep) == keep


def test_secret_repr_hides_values() -> None:
    secrets = AppSecrets.from_json(rotating("2999-01-01T00:00:00Z"))
    for value in [*LOCAL_SECRET.values(), PREVIOUS]:
        assert value not in repr(secrets)
        assert value not in str(secrets)
