"""Woosh Bridge client: one WhatsApp message per recipient, in parallel, within a deadline.

Retries only what cannot have sent a message twice: rate limits (HTTP 429, Woosh's
`rate_limited`, Meta's 130429 and 131056), Woosh's `server_error` and `send_failed` (a 5xx
without a Meta code) and connection failures, with backoff within the send's deadline. A read
timeout is ambiguous (the message may be on its way), so it is reported as `timeout` and
never retried: its taps still match through the button ids. Everything else, Meta's refusals
included, is final (SPEC §5).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from lift_alerts.observability import logger

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
# Woosh's `error` is either a short token (`invalid_phone`) or Meta's long human text
# ("(#132000) Number of parameters…"); only a token is a code a client can branch on.
_ERROR_TOKEN = re.compile(r"[a-z0-9_]{1,64}")
_META_CODE = re.compile(r"[0-9]{1,12}")
TITLE_MAX = 200
MAX_PARALLEL = 10


@dataclass(frozen=True)
class SendResult:
    to: str
    message_id: str | None
    error_code: str | None = None
    error_title: str | None = None

    @property
    def accepted(self) -> bool:
        return self.message_id is not None

    def error(self) -> dict[str, str] | None:
        if self.accepted:
            return None
        return {"code": self.error_code or "bad_response", "title": self.error_title or "send failed"}


class RateLimiter:
    """Woosh allows 10 messages a second in bursts and 100 a minute per API key (this container's share)."""

    def __init__(
        self, per_second: int = 10, per_minute: int = 100, clock: Callable[[], float] = time.monotonic
    ):
        self._per_second = per_second
        self._per_minute = per_minute
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, deadline: float) -> bool:
        """Wait for a slot; False when none frees up before `deadline` (monotonic seconds)."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= 60:
                    self._sent.popleft()
                last_second = sum(1 for t in self._sent if now - t < 1)
                wait_for = 0.0
                if len(self._sent) >= self._per_minute:
                    wait_for = 60 - (now - self._sent[0])
                elif last_second >= self._per_second:
                    wait_for = 1 - (now - self._sent[-self._per_second])
                if wait_for <= 0:
                    self._sent.append(now)
                    return True
            if now + wait_for >= deadline:
                return False
            time.sleep(min(wait_for, 0.25))


class WooshClient:
    def __init__(self, base_url: str, api_key: str, *, limiter: RateLimiter | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/api/messages/send"
        self._api_key = api_key
        self._limiter = limiter or RateLimiter()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_PARALLEL, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def send_all(self, bodies: Sequence[dict[str, Any]], *, deadline: float) -> list[SendResult]:
        """Send every body in parallel; whatever has no answer by `deadline` is a `timeout`."""
        if not bodies:
            return []
        pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(bodies)), thread_name_prefix="woosh")
        try:
            futures = [pool.submit(self.send, body, deadline=deadline) for body in bodies]
            wait(futures, timeout=max(0.0, deadline - time.monotonic()))
            results = []
            for body, future in zip(bodies, futures, strict=True):
                if future.done() and future.exception() is None:
                    results.append(future.result())
                else:
                    future.cancel()
                    results.append(
                        SendResult(str(body["to"]), None, "timeout", "no answer from Woosh in time")
                    )
            return results
        finally:
            # Never wait for stragglers: the caller has promised an answer within its deadline.
            pool.shutdown(wait=False, cancel_futures=True)

    def send(self, body: dict[str, Any], *, deadline: float) -> SendResult:
        to = str(body["to"])
        delay = 0.5
        for attempt in range(1, 5):
            if not self._limiter.acquire(deadline):
                return SendResult(to, None, "timeout", "rate limit slot not available in time")
            outcome = self._attempt(to, body, deadline)
            if isinstance(outcome, SendResult):
                return outcome
            pause = min(max(delay, outcome.retry_after or 0.0), 4.0)
            if attempt == 4 or time.monotonic() + pause >= deadline - 1.0:
                return SendResult(to, None, outcome.code, outcome.title)
            logger.warning(
                "woosh send will be retried", extra={"attempt": attempt, "error_code": outcome.code}
            )
            time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, to: str, body: dict[str, Any], deadline: float) -> SendResult | _Retry:
        remaining = deadline - time.monotonic()
        if remaining <= 0.2:
            return SendResult(to, None, "timeout", "no answer from Woosh in time")
        try:
            response = self._session.post(
                self._url,
                json=body,
                headers={"X-Api-Key": self._api_key},
                timeout=(min(3.0, remaining), remaining),
            )
        except requests.ConnectTimeout:
            return _Retry("connection_error", "could not connect to Woosh")
        except requests.Timeout:
            return SendResult(to, None, "timeout", "no answer from Woosh in time")
        except requests.ConnectionError:
            # Refused or reset before an answer; Woosh's API is behind a load balancer that
            # rejects before accepting a message, so this is treated as not sent.
            return _Retry("connection_error", "could not connect to Woosh")
        except requests.RequestException as exc:
            return SendResult(to, None, "connection_error", type(exc).__name__)
        return _interpret(to, response)


@dataclass(frozen=True)
class _Retry:
    code: str
    title: str
    retry_after: float | None = None


def _interpret(to: str, response: requests.Response) -> SendResult | _Retry:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    status = response.status_code
    if not isinstance(payload, dict):
        if status in (429, 500, 502, 503, 504):
            return _Retry("server_error", f"Woosh answered HTTP {status}", _retry_after(response))
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
        return _Retry(code, title, _retry_after(response))
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
