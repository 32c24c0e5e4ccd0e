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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import NewConnectionError

from lift_alerts.domain.deliveries import SendResult, no_slot
from lift_alerts.domain.send_slots import Reservation
from lift_alerts.platform.observability import logger
from lift_alerts.woosh.answers import Retry, interpret

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

MAX_PARALLEL = 10


class SlotSource(Protocol):
    """The service-wide send budget (`store.send_budget.SendBudget`): every attempt waits for
    its slot, and a slot it did not use is given back."""

    def reserve(
        self, count: int, *, not_after: float, first_contact: bool = False, patient: bool = True
    ) -> Reservation: ...

    def give_back(self, slots: Sequence[float], why: str) -> None: ...


# Time an attempt needs after its slot (Woosh answers within about a second).
ATTEMPT_SECONDS = 1.0


@dataclass(frozen=True)
class Outgoing:
    """One message's request, ready to leave at its slot (`WooshClient._prepare`)."""

    prepared: requests.PreparedRequest
    settings: dict[str, Any]


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
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_PARALLEL, max_retries=0)
        self._session.mount("http://", self._adapter)
        self._session.mount("https://", self._adapter)

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
        # Only what goes now is prepared and connected for: a body with no slot is queued.
        going = [slot is not None or self._budget is None for slot in slots]
        outgoing = [self._prepare(body) if goes else None for body, goes in zip(bodies, going, strict=True)]
        parallel = min(MAX_PARALLEL, len(bodies))
        first = next((request for request in outgoing if request is not None), None)
        if self._budget is not None and first is not None:
            self._connect_ahead(first, deadline, min(parallel, sum(going)))
        pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="woosh")
        try:
            futures = [
                pool.submit(
                    self.send,
                    body,
                    deadline=deadline,
                    slot=slot,
                    first_contact=first_contact,
                    late_by=late_by,
                    request=request,
                )
                if request is not None
                else None
                for body, slot, request in zip(bodies, slots, outgoing, strict=True)
            ]
            wait([f for f in futures if f is not None], timeout=max(0.0, deadline - time.monotonic()))
            results = []
            for body, future in zip(bodies, futures, strict=True):
                if future is None:
                    results.append(no_slot(str(body["to"])))
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
        request: Outgoing | None = None,
    ) -> SendResult:
        """One message, retried as the module says; every attempt waits for its own slot
        (`slot`, reserved already for the first attempt, may be left `late_by` after it).
        `request`: the body prepared, its connection made ahead (`send_all`)."""
        to = str(body["to"])
        if request is None:
            request = self._prepare(body)
            if self._budget is not None:
                self._connect_ahead(request, deadline, 1)
        delay = 0.5
        last: Retry | None = None
        for attempt in range(1, 5):
            used = self._wait_for_slot(slot if attempt == 1 else None, deadline, first_contact, late_by)
            if used is None:
                # A retry that finds no slot in time ends with the error it is retrying: the
                # message was tried and failed, it did not merely wait (only a first attempt is
                # left for the queue).
                return no_slot(to) if last is None else last.result(to)
            outcome = self._attempt(to, request, deadline)
            if isinstance(outcome, SendResult):
                return outcome
            if outcome.uncounted and self._budget is not None:
                # The Bridge's limits did not count this attempt: its slot goes to the next send.
                self._budget.give_back([used], outcome.why_uncounted)
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
    ) -> float | None:
        """Sleep until this attempt's slot (reserved now unless given) and return it (unpaced:
        now); None when none is free early enough to send before `deadline` (monotonic).

        A thread that wakes more than the reservation's `late_by` after its slot (a busy host)
        does not send then: its message would go inside the window of the slots after it and
        earn a 429 (SPEC §11). It gives the slot back and takes a new one (SPEC §12)."""
        if self._budget is None:
            return self._clock()
        while True:
            if slot is None:
                not_after = _wall(deadline) - ATTEMPT_SECONDS
                reservation = self._budget.reserve(1, not_after=not_after, first_contact=first_contact)
                if not reservation.slots:
                    return None
                slot, late_by = reservation.slots[0], reservation.late_by
            pause = slot - self._clock()
            if pause > 0:
                self._sleep(pause)
            late = self._clock() - slot
            if late <= late_by:
                return slot
            logger.warning("woke too late for the send slot; taking another", extra={"late_seconds": late})
            self._budget.give_back([slot], "woke too late")
            slot = None

    def _prepare(self, body: dict[str, Any]) -> Outgoing:
        """All of a send that can be done before its slot: the encoded request and the transport
        settings requests reads from the environment and files (proxies, netrc, certificates).
        What is left after the slot's lateness check is the transport's own work: on a busy
        host every step that lets go of the interpreter (a file read, a stat) can wait several
        switch intervals to get it back, and during a mass alarm's posting a send reached the
        stand-in ~90 ms after its slot (a 429 in the benchmark)."""
        prepared = self._session.prepare_request(
            requests.Request("POST", self._url, json=body, headers={"X-Api-Key": self._api_key})
        )
        settings = self._session.merge_environment_settings(prepared.url, {}, None, None, None)
        return Outgoing(prepared, dict(settings))

    def _connect_ahead(self, request: Outgoing, deadline: float, count: int) -> None:
        """Have `count` connections to the Bridge (through the proxy the sends will use) open
        before the slots, one for each send in parallel: a connection made after the slot's
        lateness check delays the request past it unseen. Against the real Bridge that is a
        TLS handshake on every instance's first send of a mass alarm, when instances start by
        the dozen; over the local stack, during the alarms' posting, when most sends are an
        instance's first, sends reached the stand-in 60-90 ms after their slots and earned
        429s a second on. Best effort: whatever fails here, the send itself meets and reports."""
        remaining = deadline - time.monotonic()
        if remaining <= 0.2:
            return
        try:
            pool = self._adapter.get_connection_with_tls_context(
                request.prepared,
                request.settings.get("verify", True),
                request.settings.get("proxies"),
                request.settings.get("cert"),
            )
        except Exception:  # best effort: the send reports its own failure
            return
        if not isinstance(pool, HTTPConnectionPool):
            return
        # urllib3 has no public "connect ahead"; _get_conn/_put_conn are what its own urlopen
        # uses to take a connection from the pool and give it back (pinned 2.x). All `count`
        # are held at once, so that each is a different connection.
        held: list[BaseHTTPConnection] = []
        try:
            held += [pool._get_conn(timeout=0) for _ in range(count)]
            for connection in held:
                if not connection.is_connected:
                    connection.timeout = min(3.0, remaining)
                    connection.connect()
        except Exception:  # best effort: the send reports its own failure
            return
        finally:
            for connection in held:
                pool._put_conn(connection)

    def _attempt(self, to: str, request: Outgoing, deadline: float) -> SendResult | Retry:
        remaining = deadline - time.monotonic()
        if remaining <= 0.2:
            return SendResult(to, None, "timeout", "no answer from Woosh in time")
        try:
            response = self._session.send(
                request.prepared.copy(), timeout=(min(3.0, remaining), remaining), **request.settings
            )
        except requests.ConnectTimeout:
            return Retry("connection_error", "could not connect to Woosh", uncounted=True)
        except requests.Timeout:
            return SendResult(to, None, "timeout", "no answer from Woosh in time")
        except requests.ConnectionError as exc:
            # Refused or reset before an answer; Woosh's API is behind a load balancer that
            # rejects before accepting a message, so this is treated as not sent.
            return Retry("connection_error", "could not connect to Woosh", uncounted=_refused(exc))
        except requests.RequestException as exc:
            return SendResult(to, None, "connection_error", type(exc).__name__)
        return interpret(to, response)


def _wall(deadline: float) -> float:
    """A monotonic deadline as wall-clock time (the budget's slots are shared across hosts)."""
    return time.time() + (deadline - time.monotonic())


def _refused(exc: requests.ConnectionError) -> bool:
    """The connection itself was refused or could not be made (nothing was sent, so the Bridge
    counted nothing), rather than dropped after the request went out (which it may have)."""
    error = exc.args[0] if exc.args else None
    return isinstance(getattr(error, "reason", error), NewConnectionError)
