"""The secret model (issue 6): keys, rotation windows, credential checks and masking, as pure
rules (the handlers' side is tests/component/test_security.py)."""

from __future__ import annotations

import io
import json
import logging
import random
import re
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools import Logger

from lift_alerts.platform.config import ConfigurationError
from lift_alerts.platform.observability import _masking_serializer, mask_phone
from lift_alerts.platform.secrets import AppSecrets
from tests.support import secrets as secret_values
from tests.support.harness import LOCAL_SECRET

PHONE = "27824537125"


def test_rotation_window_in_the_secret_model() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    current = LOCAL_SECRET["webhook_secret"]
    for until, accepted in [
        ("2026-01-01T12:00:01Z", (current, secret_values.PREVIOUS)),
        ("2026-01-01T14:00:00+02:00", (current,)),  # the same instant as 12:00Z: expired
        ("2026-01-01T12:00:00", (current,)),  # naive means UTC
        ("2026-01-01T11:59:59Z", (current,)),
        ("2026-01-02T00:00:00+00:00", (current, secret_values.PREVIOUS)),
    ]:
        assert (
            AppSecrets.from_json(json.dumps(secret_values.rotating(until)), now=now).webhook_secrets
            == accepted
        ), until
    # Without a deadline the previous secret is never accepted (no open-ended grace).
    no_deadline = {**LOCAL_SECRET, "previous_webhook_secret": secret_values.PREVIOUS}
    assert AppSecrets.from_json(no_deadline, now=now).webhook_secrets == (current,)
    with pytest.raises(ConfigurationError):
        AppSecrets.from_json(secret_values.rotating("next tuesday"), now=now)


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


# The mask as first written (slower: it tries its lookbehind at every position).
REFERENCE_MASK = re.compile(r"(?<![\w.])\+?(\d{2,4})(\d{3,10})(\d{3})(?![\w])")


def _reference(value: str) -> str:
    return REFERENCE_MASK.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), value)


def test_mask_phone_masks_exactly_what_the_reference_pattern_masks() -> None:
    rng = random.Random(20261202)
    alphabet = "+.a :_-é\u0661" + "0123456789" * 3  # \u0661: a digit to regex too
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert mask_phone(text) == _reference(text), text
    for length in range(1, 22):  # every run length, alone, after "+", inside words and numbers
        digits = "".join(str(i % 10) for i in range(length))
        for text in (
            digits,
            f"+{digits}",
            f"a+{digits}",
            f"x{digits}",
            f"1.{digits}",
            f"{digits}.5",
            f"{digits}a",
        ):
            assert mask_phone(text) == _reference(text), text


def _logged(message: str, **extra: object) -> dict[str, object]:
    """One line of a Powertools logger with the shared serializer, parsed (it must be JSON)."""
    stream = io.StringIO()
    log = Logger(
        service="masking-test",
        json_serializer=_masking_serializer,
        logger_handler=logging.StreamHandler(stream),
    )
    log.info(message, extra=extra)
    line = stream.getvalue()
    assert PHONE not in line, line
    parsed: dict[str, object] = json.loads(line)
    return parsed


class _Account:
    def __str__(self) -> str:
        return f"account of {PHONE}"


def test_a_phone_number_is_masked_wherever_a_line_holds_it() -> None:
    line = _logged(
        f"call\n{PHONE}",  # after an escaped line break: a letter precedes it in the written line
        tab=f"to:\t+{PHONE}",
        control=f"\x01{PHONE}",
        number=int(PHONE),  # a number that holds one is logged as text, and the line stays JSON
        negative=-int(PHONE),
        decimal_point=float(PHONE),
        by_phone={PHONE: 1, int(PHONE): 2},
        nested=[{"to": ("+" + PHONE,)}],
        other=_Account(),  # written with str()
        long="x" * 300 + f" {PHONE}",  # longer than the texts kept in the cache
    )
    assert line["message"] == "call\n2782****125"
    assert line["tab"] == "to:\t2782****125"
    assert line["control"] == "\x012782****125"
    assert line["number"] == "2782****125"
    assert line["negative"] == "-2782****125"
    assert line["decimal_point"] == "2782****125.0"
    assert line["by_phone"] == {"2782****125": 2}
    assert line["nested"] == [{"to": ["2782****125"]}]
    assert line["other"] == "account of 2782****125"
    assert str(line["long"]).endswith(" 2782****125")


def test_a_line_without_phone_numbers_is_written_as_it_was_given() -> None:
    record = {
        "message": "webhook processed",
        "timestamp": "2026-12-08 01:23:06,865+0000",
        "function_request_id": "68dd2682-ff53-423f-9006-15f1654ace36",
        "alert_id": "bb3bbeca712a49baacf87ec0d8388fd8",
        "count": 1234567,
        "ratio": 1.5,
        "ok": True,
        "none": None,
        "outcomes": {"tap_matched_context": 1},
        "results": [{"tap_id": "wamid.HBgL27824537125FQIAERgS"}],
        "café": "é\u0661",
    }
    assert _masking_serializer(record) == json.dumps(record, ensure_ascii=False)
    # The same text again (from the cache) and many new ones after it (the cache dropped).
    for index in range(5_000):
        assert _masking_serializer({"to": f"{index} {PHONE}"}) == json.dumps({"to": f"{index} 2782****125"})
    assert _masking_serializer(record) == json.dumps(record, ensure_ascii=False)


def test_a_request_summary_in_the_metrics_document_is_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    from lift_alerts.platform.observability import count, metrics, request_summary

    metrics.clear_metrics()
    count("TapMatched")
    request_summary("webhook processed", results=[{"from": "+" + PHONE, "seen": int(PHONE)}])
    metrics.flush_metrics()
    printed = capsys.readouterr().out
    assert PHONE not in printed
    (line,) = [json.loads(text) for text in printed.splitlines() if text.startswith("{")]
    assert line["message"] == "webhook processed"
    assert line["level"] == "INFO"
    assert line["results"] == [{"from": "2782****125", "seen": "2782****125"}]
    assert line["TapMatched"] == [1.0]


def test_secret_repr_hides_values() -> None:
    secrets = AppSecrets.from_json(secret_values.rotating("2999-01-01T00:00:00Z"))
    for value in [*LOCAL_SECRET.values(), secret_values.PREVIOUS]:
        assert value not in repr(secrets)
        assert value not in str(secrets)


def test_callback_token_rotation_in_the_secret_model() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for until, accepted in [
        ("2026-01-01T12:00:01Z", (secret_values.NEW_TOKEN, secret_values.TOKEN)),
        ("2026-01-01T12:00:00Z", (secret_values.NEW_TOKEN,)),  # valid until then, never after
        ("2026-01-01T14:00:00+02:00", (secret_values.NEW_TOKEN,)),
        (None, (secret_values.NEW_TOKEN,)),
    ]:
        assert (
            AppSecrets.from_json(secret_values.rotating_token(until), now=now).callback_tokens == accepted
        ), until
    # A previous token belongs to a rotation of the current one: alone it authenticates nothing.
    orphan = {
        **secret_values.WEBHOOK_KEYS_ONLY,
        "previous_callback_token": secret_values.TOKEN,
        "previous_callback_token_valid_until": "2999-01-01",
    }
    assert AppSecrets.from_json(orphan, now=now).callback_tokens == ()
    assert not AppSecrets.from_json(orphan, now=now).webhook_credentials_configured
    with pytest.raises(ConfigurationError, match="previous_callback_token_valid_until"):
        AppSecrets.from_json(secret_values.rotating_token("soon"), now=now)


def test_secret_model_keys_and_the_woosh_signature_key() -> None:
    only_token = AppSecrets.from_json(
        {**secret_values.WEBHOOK_KEYS_ONLY, "callback_token": secret_values.TOKEN}
    )
    assert (only_token.callback_tokens, only_token.webhook_secrets) == ((secret_values.TOKEN,), ())
    assert only_token.webhook_credentials_configured
    assert only_token.woosh_signature_secrets == ()
    both = AppSecrets.from_json(LOCAL_SECRET)
    assert both.woosh_signature_secrets == (LOCAL_SECRET["webhook_secret"],)
    own = AppSecrets.from_json({**LOCAL_SECRET, "woosh_signing_secret": secret_values.WOOSH_OWN})
    assert own.woosh_signature_secrets == (secret_values.WOOSH_OWN,)
    # Neither webhook key is not a configuration error: the send API still works (below).
    assert not AppSecrets.from_json(secret_values.WEBHOOK_KEYS_ONLY).webhook_credentials_configured
    for required in ("woosh_api_key", "verify_token"):
        with pytest.raises(ConfigurationError, match=required):
            AppSecrets.from_json({k: v for k, v in LOCAL_SECRET.items() if k != required})


def test_credential_check_is_pure_and_names_kinds() -> None:
    """authenticate() over header maps as API Gateway or any client may spell them."""
    from lift_alerts.flows.webhook_auth import Credential, authenticate

    raw = b'{"entry": []}'
    secrets = AppSecrets.from_json({**LOCAL_SECRET, "woosh_signing_secret": secret_values.WOOSH_OWN})
    hub, woosh = secret_values.sign(raw), secret_values.sign(raw, secret_values.WOOSH_OWN)
    cases: list[tuple[dict[str, str], tuple[Credential, ...], tuple[Credential, ...], bool]] = [
        ({}, (), (), False),
        ({"AUTHORIZATION": f"Bearer {secret_values.TOKEN}"}, (Credential.BEARER,), (), True),
        ({"Authorization": f"  bearer   {secret_values.TOKEN}  "}, (Credential.BEARER,), (), True),
        ({"Authorization": f"Bearer\t{secret_values.TOKEN}"}, (Credential.BEARER,), (), True),
        ({"Authorization": f"Basic {secret_values.TOKEN}"}, (), (), False),
        ({"Authorization": ""}, (), (), False),
        ({"X-HUB-SIGNATURE-256": hub}, (Credential.HUB_SIGNATURE,), (), True),
        ({"x-woosh-signature": woosh}, (Credential.WOOSH_SIGNATURE,), (), True),
        ({"X-Woosh-Signature": hub}, (), (Credential.WOOSH_SIGNATURE,), False),
        ({"X-Hub-Signature-256": ""}, (), (Credential.HUB_SIGNATURE,), False),
        (
            {
                "Authorization": f"Bearer {secret_values.TOKEN}",
                "X-Hub-Signature-256": hub,
                "X-Woosh-Signature": woosh,
            },
            (Credential.BEARER, Credential.HUB_SIGNATURE, Credential.WOOSH_SIGNATURE),
            (),
            True,
        ),
        (
            {"Authorization": "Bearer x", "X-Hub-Signature-256": hub},
            (Credential.HUB_SIGNATURE,),
            (Credential.BEARER,),
            False,
        ),
    ]
    for headers, verified, wrong, authentic in cases:
        result = authenticate(raw, headers, secrets)
        assert (result.verified, result.wrong, result.authentic) == (verified, wrong, authentic), headers
    assert authenticate(raw, {"Authorization": f"Basic {secret_values.TOKEN}"}, secrets).other_scheme_ignored
