"""What the Woosh Bridge answers to a send, read as SPEC §5 says (the recorded error code is
Woosh's short token, else Meta's numeric code, else `bad_response`), and which answers may be
retried: only those that say nothing was sent and that a pause can cure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from lift_alerts.domain.deliveries import SendResult, no_slot

# Never retried (the same request would be refused again); neither are Meta's codes other
# than its rate limits, nor any code not listed as retryable below.
FINAL_ERRORS = {
    "invalid_api_key",
    "invalid_phone",
    "message_too_long",
    "template_not_found",
    "unsupported_payload",
}
# Woosh's own codes for a send that did not happen and may be tried again
# (`send_failed` only as a 5xx without a Meta code).
RETRYABLE_ERRORS = {"rate_limited", "server_error", "send_failed"}
# Meta refusals are final except its rate limits: 130429 (throughput) and 131056 (too many
# messages to one person in a short time); both clear after a pause.
META_RATE_LIMITS = {"130429", "131056"}
# Answers that say the message was refused for rate, not accepted: one still refused when the
# deadline comes was never sent, so it waits in the queue like a message that found no slot
# (SPEC §11), instead of being reported failed.
RATE_REFUSALS = {"rate_limited", *META_RATE_LIMITS}
# Woosh's `error` is either a short token (`invalid_phone`) or Meta's long human text
# ("(#132000) Number of parameters…"); only a token is a code a client can branch on.
_ERROR_TOKEN = re.compile(r"[a-z0-9_]{1,64}")
_META_CODE = re.compile(r"[0-9]{1,12}")
TITLE_MAX = 200


@dataclass(frozen=True)
class Retry:
    code: str
    title: str
    retry_after: float | None = None
    # The Bridge did not count this attempt against its limits, so its send slot is unused: the
    # connection was never made, or the Bridge's own limiter refused it (`429 rate_limited`: a
    # refused request uses no capacity, SPEC §12). Meta's rate limits are not this: the Bridge
    # passed the message on, so it counted it.
    uncounted: bool = False

    @property
    def why_uncounted(self) -> str:
        """Why this attempt's slot is given back, for the log."""
        return (
            "refused by the Bridge's rate limiter"
            if self.code == "rate_limited"
            else "the send never reached the Bridge"
        )

    def result(self, to: str) -> SendResult:
        """What this retry ends with when it is not tried again: its failure, or, for a refusal
        for rate (never sent), no slot, so the message is left for the queue."""
        return no_slot(to) if self.code in RATE_REFUSALS else SendResult(to, None, self.code, self.title)


def interpret(to: str, response: requests.Response) -> SendResult | Retry:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    status = response.status_code
    if not isinstance(payload, dict):
        if status in (429, 500, 502, 503, 504):
            return Retry("server_error", f"Woosh answered HTTP {status}", _retry_after(response))
        return SendResult(to, None, "bad_response", f"Woosh answered HTTP {status} without JSON")
    if 200 <= status < 300 and payload.get("ok") is True:
        message_id = payload.get("wa_id")
        if isinstance(message_id, str) and message_id:
            return SendResult(to, message_id)
        return SendResult(to, None, "bad_response", "Woosh accepted but returned no message id")
    woosh_code, meta_code = _woosh_code(payload), _meta_code(payload)
    code = woosh_code or meta_code or "bad_response"
    title = _error_title(payload, status)
    if _retryable(status, woosh_code, meta_code):
        refused_by_limiter = status == 429 and woosh_code == "rate_limited"
        return Retry(code, title, _retry_after(response), uncounted=refused_by_limiter)
    return SendResult(to, None, code, title)


def _woosh_code(payload: dict[str, Any]) -> str | None:
    error = payload.get("error")
    if isinstance(error, str) and _ERROR_TOKEN.fullmatch(error):
        return error
    return None


def _meta_code(payload: dict[str, Any]) -> str | None:
    """Meta's numeric error code: top-level `code`, else the one inside `detail.error`."""
    detail = payload.get("detail")
    nested = detail.get("error") if isinstance(detail, dict) else None
    for value in (payload.get("code"), nested.get("code") if isinstance(nested, dict) else None):
        if isinstance(value, bool):
            continue
        text = str(value) if isinstance(value, int | str) else ""
        if _META_CODE.fullmatch(text):
            return text
    return None


def _error_title(payload: dict[str, Any], status: int) -> str:
    """The human text: `message`, else the long `error` text, else a `detail` text."""
    detail = payload.get("detail")
    nested = detail.get("error") if isinstance(detail, dict) else None
    error = payload.get("error")
    candidates = (
        payload.get("message"),
        error if _woosh_code(payload) is None else None,
        detail,
        nested.get("message") if isinstance(nested, dict) else None,
        error,
    )
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:TITLE_MAX]
    return f"Woosh answered HTTP {status}"


def _retryable(status: int, woosh_code: str | None, meta_code: str | None) -> bool:
    """Only answers that say nothing was sent and that a pause can cure (SPEC §5)."""
    if meta_code in META_RATE_LIMITS or woosh_code in META_RATE_LIMITS:
        return True
    if status == 429 or woosh_code == "rate_limited":
        return True
    if meta_code is not None:
        return False  # Meta refused this message: sending it again is refused again
    if woosh_code == "send_failed":
        return status >= 500  # the Bridge failed on its side, before Meta said anything
    return woosh_code in RETRYABLE_ERRORS


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None
