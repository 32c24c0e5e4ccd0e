"""Woosh Bridge client: one WhatsApp message per recipient, in parallel, within a deadline.

Retries only what cannot have sent a message twice: rate limits (HTTP 429, Woosh's
`rate_limited`, Meta's 130429 and 131056), Woosh's `server_error` and `send_failed` (a 5xx
without a Meta code) and connection failures, with backoff within the send's deadline. A read
timeout is ambiguous (the message may be on its way), so it is reported as `timeout` and
never retried: its taps still match through the button ids. Everything else, Meta's refusals
included, is final (SPEC §5).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from lift_alerts.observability import logger
from lift_alerts.pacing import Reservation

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


class SlotSource(Protocol):
    """The service-wide send budget (`pacing.SendBudget`): every attempt waits for its slot."""

    def reserve(
        self, count: int, *, not_after: float, first_contact: bool = False, patient: bool = True
    ) -> Reservation: ...


# Code of a message that got no send slot before its deadline: nothing was sent, and the
# caller may queue it (SPEC §11).
NO_SLOT = "no_send_slot"
# Time an attempt needs after its slot (Woosh answers within about a second).
ATTEMPT_SECONDS = 1.0


class WooshClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        budget: SlotSource | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock  # wall clock, as the budget's slots
        self._sleep = sleep  # waits for a slot
        self._url = f"{base_url.rstrip('/')}/api/messages/send"
        self._api_key = api_key
        # None: unpaced (only for tools talking to a bridge without limits).
        self._budget = budget
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_PARALLEL, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def send_all(
        self,
        bodies: Sequence[dict[str, Any]],
        *,
        deadline: float,
        first_contact: bool = False,
        patient: bool = True,
    ) -> list[SendResult]:
        """Send every body in parallel; whatever has no answer by `deadline` is a `timeout`.

        The first attempts' slots are reserved together, in the order of `bodies` (one write to
        the budget); a body that gets no slot before the deadline is not sent (`NO_SLOT`).
        `first_contact` and `patient` say how the reservation ranks (`SendBudget.reserve`).
        """
        if not bodies:
            return []
        slots: list[float | None] = [None] * len(bodies)
        late_by = math.inf
        if self._budget is not None:
            reservation = self._budget.reserve(
                len(bodies),
                not_after=_wall(deadline) - ATTEMPT_SECONDS,
                first_contact=first_contact,
                patient=patient,
            )
            late_by = reservation.late_by
            slots = [*reservation.slots, *([None] * (len(bodies) - len(reservation.slots)))]
        pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(bodies)), thread_name_prefix="woosh")
        try:
            futures = [
                pool.submit(
                    self.send,
                    body,
                    deadline=deadline,
                    slot=slot,
                    first_contact=first_contact,
                    late_by=late_by,
                )
                if slot is not None or self._budget is None
                else None
                for body, slot in zip(bodies, slots, strict=True)
            ]
            wait([f for f in futures if f is not None], timeout=max(0.0, deadline - time.monotonic()))
            results = []
            for body, future in zip(bodies, futures, strict=True):
                if future is None:
                    results.append(_no_slot(str(body["to"])))
                elif future.done() and future.exception() is None:
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

    def send(
        self,
        body: dict[str, Any],
        *,
        deadline: float,
        slot: float | None = None,
        first_contact: bool = False,
        late_by: float = math.inf,
    ) -> SendResult:
        """One message, retried as the module says; every attempt waits for its own slot
        (`slot`, reserved already for the first attempt, may be left `late_by` after it)."""
        to = str(body["to"])
        delay = 0.5
        last: _Retry | None = None
        for attempt in range(1, 5):
            if not self._wait_for_slot(slot if attempt == 1 else None, deadline, first_contact, late_by):
                # A retry that finds no slot in time ends with the error it is retrying: the
                # message was tried and failed, it did not merely wait (only a first attempt is
                # left for the queue).
                return _no_slot(to) if last is None else last.result(to)
            outcome = self._attempt(to, body, deadline)
            if isinstance(outcome, SendResult):
                return outcome
            last = outcome
            pause = min(max(delay, outcome.retry_after or 0.0), 4.0)
            if attempt == 4 or time.monotonic() + pause >= deadline - 1.0:
                return outcome.result(to)
            logger.warning(
                "woosh send will be retried", extra={"attempt": attempt, "error_code": outcome.code}
            )
            time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_for_slot(
        self, slot: float | None, deadline: float, first_contact: bool = False, late_by: float = math.inf
    ) -> bool:
        """Sleep until this attempt's slot (reserved now unless given); False when none is free
        early enough to send before `deadline` (monotonic).

        A thread that wakes more than the reservation's `late_by` after its slot (a busy host)
        does not send then: its message would go inside the window of the slots after it and
        earn a 429 (SPEC §11). It takes a new slot instead (its old one is lost capacity)."""
        if self._budget is None:
            return True
        while True:
            if slot is None:
                not_after = _wall(deadline) - ATTEMPT_SECONDS
                reservation = self._budget.reserve(1, not_after=not_after, first_contact=first_contact)
                if not reservation.slots:
                    return False
                slot, late_by = reservation.slots[0], reservation.late_by
            pause = slot - self._clock()
            if pause > 0:
                self._sleep(pause)
            late = self._clock() - slot
            if late <= late_by:
                return True
            logger.warning("woke too late for the send slot; taking another", extra={"late_seconds": late})
            slot = None

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


def _wall(deadline: float) -> float:
    """A monotonic deadline as wall-clock time (the budget's slots are shared across hosts)."""
    return time.time() + (deadline - time.monotonic())


def _no_slot(to: str) -> SendResult:
    return SendResult(to, None, NO_SLOT, "no send slot within Woosh's rate limits before the deadline")


@dataclass(frozen=True)
class _Retry:
    code: str
    title: str
    retry_after: float | None = None

    def result(self, to: str) -> SendResult:
        """What this retry ends with when it is not tried again: its failure, or, for a refusal
        for rate (never sent), no slot, so the message is left for the queue."""
        return _no_slot(to) if self.code in RATE_REFUSALS else SendResult(to, None, self.code, self.title)


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
