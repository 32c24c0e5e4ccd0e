"""How a Woosh answer becomes a recipient's result (SPEC §5): the recorded error code and
title, and which answers are tried again. Pure: the answers are `requests.Response` objects
built by hand, no socket."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from lift_alerts.domain.deliveries import SendResult
from lift_alerts.woosh.answers import Retry, interpret

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
TO = "27824537125"


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    """A response as requests builds it from the wire: status, headers, raw bytes."""
    response = requests.Response()
    response.status_code = status
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.raw = io.BytesIO(raw)
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    response.encoding = "utf-8"
    return response


def meta_refusal(code: int, text: str) -> dict[str, Any]:
    """The Bridge's shape for a send Meta refused (as in woosh_send_error_meta.json)."""
    return {
        "ok": False,
        "error": f"(#{code}) {text}",
        "code": code,
        "detail": {"error": {"message": f"(#{code}) {text}", "type": "OAuthException", "code": code}},
    }


def final(result: SendResult | Retry) -> SendResult:
    assert isinstance(result, SendResult), f"expected a final answer, got a retry: {result}"
    return result


def retried(result: SendResult | Retry) -> Retry:
    assert isinstance(result, Retry), f"expected a retry, got a final answer: {result}"
    return result


# -- the recorded error: code and title -------------------------------------------------------


def test_meta_refusal_sample_is_final_with_metas_code_and_its_text_as_title() -> None:
    sample = json.loads((SAMPLES / "woosh_send_error_meta.json").read_text())
    result = final(interpret(TO, answer(502, sample)))
    assert result.message_id is None
    assert result.error() == {
        "code": "132000",
        "title": "(#132000) Number of parameters does not match the expected number of params",
    }


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("invalid_api_key", 401),
        ("invalid_phone", 400),
        ("message_too_long", 400),
        ("template_not_found", 400),
        ("unsupported_payload", 400),
    ],
)
def test_woosh_codes_are_recorded_as_is_and_final(code: str, status: int) -> None:
    body = {"ok": False, "error": code, "message": "Woosh says why"}
    assert final(interpret(TO, answer(status, body))).error() == {"code": code, "title": "Woosh says why"}


def test_a_short_token_wins_over_metas_numeric_code() -> None:
    body = {"ok": False, "error": "invalid_phone", "message": "not on WhatsApp", "code": 131026}
    assert final(interpret(TO, answer(400, body))).error_code == "invalid_phone"


@pytest.mark.parametrize(
    "error",
    [
        "Invalid_Phone",  # upper case
        "invalid-phone",  # hyphen
        "invalid phone",  # a space: human text
        "x" * 65,  # not short
    ],
)
def test_error_text_that_is_not_a_short_token_falls_back_to_metas_code(error: str) -> None:
    body = {"ok": False, "error": error, "code": 131026}
    result = final(interpret(TO, answer(502, body)))
    assert result.error_code == "131026"
    assert result.error_title == error


def test_digits_and_underscores_make_a_token() -> None:
    body = {"ok": False, "error": "err_42", "message": "odd"}
    assert final(interpret(TO, answer(400, body))).error_code == "err_42"


def test_metas_code_only_inside_detail_is_used() -> None:
    body = meta_refusal(131026, "Message undeliverable")
    del body["code"]
    assert final(interpret(TO, answer(502, body))).error_code == "131026"


def test_meta_code_given_as_a_string_is_used() -> None:
    body = {"ok": False, "error": "(#131026) Message undeliverable", "code": "131026"}
    assert final(interpret(TO, answer(502, body))).error_code == "131026"


@pytest.mark.parametrize(
    "body",
    [
        {"ok": False, "error": "Something went wrong upstream"},
        {"ok": False, "error": "(#132000) wrong count", "code": True},
        {"ok": False, "error": "(#132000) wrong count", "code": "abc"},
        {"ok": False},
        {"ok": False, "error": 42},
    ],
)
def test_neither_token_nor_numeric_code_is_bad_response(body: dict[str, Any]) -> None:
    assert final(interpret(TO, answer(400, body))).error_code == "bad_response"


def test_title_is_message_then_long_error_text_then_detail() -> None:
    with_message = {"ok": False, "error": "(#131026) long text", "code": 131026, "message": "short words"}
    assert final(interpret(TO, answer(502, with_message))).error_title == "short words"
    without_message = {"ok": False, "error": "(#131026) long text", "code": 131026}
    assert final(interpret(TO, answer(502, without_message))).error_title == "(#131026) long text"
    detail_only = {"ok": False, "error": "weird_failure", "detail": "the upstream said no"}
    assert final(interpret(TO, answer(400, detail_only))).error_title == "the upstream said no"
    token_only = {"ok": False, "error": "weird_failure"}
    assert final(interpret(TO, answer(400, token_only))).error_title == "weird_failure"
    nothing = {"ok": False}
    assert final(interpret(TO, answer(400, nothing))).error_title == "Woosh answered HTTP 400"


def test_title_is_at_most_200_characters() -> None:
    long_text = "(#131026) " + "undeliverable " * 40
    result = final(interpret(TO, answer(502, {"ok": False, "error": long_text, "code": 131026})))
    assert result.error_code == "131026"
    assert len(result.error_title or "") == 200
    assert result.error_title == " ".join(long_text.split())[:200]
    message = final(interpret(TO, answer(400, {"ok": False, "error": "invalid_phone", "message": "m" * 999})))
    assert message.error_title == "m" * 200


def test_success_is_the_message_id_and_success_without_one_is_bad_response() -> None:
    ok = {"ok": True, "wa_id": "wamid.SENT1", "to": TO, "accepted": True}
    assert final(interpret(TO, answer(200, ok))) == SendResult(TO, "wamid.SENT1")
    no_id = final(interpret(TO, answer(200, {"ok": True, "accepted": True})))
    assert no_id.error_code == "bad_response"


def test_a_2xx_with_ok_false_is_a_failure() -> None:
    body = {"ok": False, "error": "invalid_phone", "message": "no"}
    assert final(interpret(TO, answer(200, body))).error_code == "invalid_phone"


# -- what is tried again ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [130429, 131056])
@pytest.mark.parametrize("status", [502, 400, 429])
def test_metas_rate_limits_are_retried_with_their_code(code: int, status: int) -> None:
    result = retried(interpret(TO, answer(status, meta_refusal(code, "Rate limit hit"))))
    assert result.code == str(code)
    assert result.title == f"(#{code}) Rate limit hit"
    assert not result.uncounted  # the Bridge passed it on to Meta: its limits counted it


def test_the_bridges_own_429_is_retried_and_did_not_count_against_its_limits() -> None:
    body = {"ok": False, "error": "rate_limited", "message": "Rate limit exceeded"}
    result = retried(interpret(TO, answer(429, body)))
    assert (result.code, result.uncounted) == ("rate_limited", True)
    assert not retried(interpret(TO, answer(503, {"ok": False, "error": "server_error"}))).uncounted


@pytest.mark.parametrize(
    "code",
    [
        131026,  # undeliverable: Woosh says never retry
        131047,  # outside the 24-hour window: a template, not the same message again
        132000,  # wrong number of template parameters
        132001,  # template language not approved
        132018,  # a parameter with a newline
        131000,  # Meta's generic error
    ],
)
def test_other_meta_codes_are_final(code: int) -> None:
    assert final(interpret(TO, answer(502, meta_refusal(code, "refused")))).error_code == str(code)


def test_send_failed_5xx_without_meta_code_is_retried() -> None:
    body = {"ok": False, "error": "send_failed", "detail": "upstream connection reset"}
    result = retried(interpret(TO, answer(500, body)))
    assert (result.code, result.title) == ("send_failed", "upstream connection reset")


def test_send_failed_with_a_meta_code_is_final() -> None:
    body = {"ok": False, "error": "send_failed", "code": 131026, "detail": {"error": {"code": 131026}}}
    assert final(interpret(TO, answer(502, body))).error_code == "send_failed"


def test_send_failed_below_500_is_final() -> None:
    body = {"ok": False, "error": "send_failed", "message": "bad request"}
    assert final(interpret(TO, answer(400, body))).error_code == "send_failed"


def test_rate_limited_429_is_retried_after_what_retry_after_says() -> None:
    body = {"ok": False, "error": "rate_limited", "message": "Rate limit exceeded"}
    result = retried(interpret(TO, answer(429, body, {"Retry-After": "2"})))
    assert (result.code, result.retry_after) == ("rate_limited", 2.0)


def test_any_429_is_retried_even_with_another_code() -> None:
    body = {"ok": False, "error": "(#4) Application request limit reached", "code": 4}
    assert retried(interpret(TO, answer(429, body))).code == "4"


def test_server_error_is_retried() -> None:
    body = {"ok": False, "error": "server_error", "message": "Internal server error"}
    assert retried(interpret(TO, answer(500, body))).code == "server_error"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_5xx_or_429_without_json_is_retried(status: int) -> None:
    assert retried(interpret(TO, answer(status, b"<html>Bad gateway</html>"))).code == "server_error"


def test_a_4xx_without_json_is_a_final_bad_response() -> None:
    assert final(interpret(TO, answer(404, b"<html>no</html>"))).error_code == "bad_response"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"ok": False, "error": "invalid_api_key", "message": "Invalid or missing API key"}),
        (400, {"ok": False, "error": "invalid_phone", "message": "no"}),
        (500, {"ok": False, "error": "unknown_failure", "message": "?"}),
        (502, {"ok": False, "error": "Something long went wrong"}),
    ],
)
def test_everything_else_is_final(status: int, body: dict[str, Any]) -> None:
    final(interpret(TO, answer(status, body)))
