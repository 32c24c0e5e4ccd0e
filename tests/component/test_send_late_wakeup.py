"""A sender that wakes too late for its send slot (a busy host) gives it back and takes another
slot instead of sending inside the next window (SPEC §11: the service's own bursts never earn a
429; §12: no send capacity is lost)."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from typing import Any

import pytest
import requests
from urllib3.connection import HTTPConnection

from lift_alerts.domain.deliveries import no_slot
from lift_alerts.domain.send_slots import Reservation
from lift_alerts.woosh.client import WooshClient
from local.woosh_standin import WooshStandIn
from tests.support.fake_time import FakeTime
from tests.support.harness import LOCAL_SECRET

LATE_BY = 0.05


class SlotsAhead:
    """Grants each reservation the next free slot, a second after the clock, 0.1 s apart."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.granted: list[float] = []
        self.given_back: list[float] = []

    def reserve(self, count: int, *, not_after: float, first_contact: bool = False, **_: Any) -> Reservation:
        start = max([self.clock.now + 1.0, *(at + 0.1 for at in self.granted)])
        slots = tuple(round(start + 0.1 * i, 3) for i in range(count))
        self.granted += slots
        return Reservation(slots, slots[-1] + 0.1, LATE_BY)

    def give_back(self, slots: Sequence[float], why: str) -> None:
        self.given_back += slots


def paced_client(
    woosh: WooshStandIn, clock: FakeTime, budget: SlotsAhead | None = None
) -> tuple[WooshClient, SlotsAhead]:
    """A client of the stand-in on `clock`, its slots from `budget` (a `SlotsAhead`)."""
    budget = budget or SlotsAhead(clock)
    client = WooshClient(
        woosh.base_url, LOCAL_SECRET["woosh_api_key"], budget=budget, clock=clock.time, sleep=clock.sleep
    )
    return client, budget


def record_connects(monkeypatch: pytest.MonkeyPatch, clock: FakeTime) -> list[float]:
    """When (on `clock`) each connection to the stand-in is made, from now on."""
    connect = HTTPConnection.connect
    connected_at: list[float] = []

    def timed_connect(self: HTTPConnection) -> None:
        connected_at.append(clock.now)
        connect(self)

    monkeypatch.setattr(HTTPConnection, "connect", timed_connect)
    return connected_at


def body(to: str) -> dict[str, Any]:
    return {"to": to, "text": "Lift alarm"}


def test_a_sender_that_wakes_too_late_takes_a_new_slot(woosh: WooshStandIn) -> None:
    clock = FakeTime(1000.0, overrun=0.3)
    client, budget = paced_client(woosh, clock)
    [result] = client.send_all([body("27831234567")], deadline=time.monotonic() + 20, first_contact=True)
    assert result.accepted
    assert [m.to for m in woosh.sent] == ["27831234567"]  # sent once
    # Not at 1001.3 in the first slot's window: in a second slot, on time.
    assert budget.granted == [1001.0, 1001.3 + 1.0]
    assert clock.now - budget.granted[-1] <= LATE_BY
    # The slot it woke too late for was not used: given back, not lost (SPEC §12).
    assert budget.given_back == [1001.0]


def test_a_sender_on_time_sends_in_its_slot(woosh: WooshStandIn) -> None:
    clock = FakeTime(1000.0, overrun=LATE_BY)  # late, but within what the budget allows
    client, budget = paced_client(woosh, clock)
    [result] = client.send_all([body("27831234568")], deadline=time.monotonic() + 20)
    assert result.accepted
    assert budget.granted == [1001.0]
    assert budget.given_back == []


def test_the_lateness_check_is_the_last_step_before_the_request_leaves(
    woosh: WooshStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a busy host, preparing a request (encoding it, reading proxy settings and netrc from
    # the environment and files) can take long enough to leave the slot's window: it is done
    # before the slot, so that what the check saw is when the request goes.
    clock = FakeTime(1000.0)
    client, budget = paced_client(woosh, clock)
    session = client._session
    prepare, transport = session.prepare_request, session.get_adapter(woosh.base_url)
    transport_send = transport.send
    left_at: list[float] = []

    def slow_prepare(request: requests.Request) -> requests.PreparedRequest:
        clock.now += 0.2  # the interpreter was busy elsewhere
        return prepare(request)

    def timed_send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        left_at.append(clock.now)
        return transport_send(request, **kwargs)

    monkeypatch.setattr(session, "prepare_request", slow_prepare)
    monkeypatch.setattr(transport, "send", timed_send)
    [result] = client.send_all([body("27831234569")], deadline=time.monotonic() + 20)
    assert result.accepted
    assert budget.granted == [1001.0]
    assert [round(at - 1001.0, 3) for at in left_at] == [0.0]  # left at its slot, not 0.2 s after


def test_the_connection_to_the_bridge_is_made_before_the_slot(
    woosh: WooshStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new instance's first send would otherwise connect (a TLS handshake, in AWS) after the
    # slot's lateness check, and reach the Bridge late without anyone knowing.
    clock = FakeTime(1000.0)
    client, budget = paced_client(woosh, clock)
    connected_at = record_connects(monkeypatch, clock)
    results = client.send_all([body("27831234570"), body("27831234571")], deadline=time.monotonic() + 20)
    assert [r.accepted for r in results] == [True, True]
    assert budget.granted == [1001.0, 1001.1]
    assert connected_at
    assert all(at < 1001.0 for at in connected_at)  # none after a slot


def test_a_bridge_that_cannot_be_reached_ahead_is_reported_by_the_send() -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    clock = FakeTime(1000.0)
    client = WooshClient(
        f"http://127.0.0.1:{port}", "key", budget=SlotsAhead(clock), clock=clock.time, sleep=clock.sleep
    )
    [result] = client.send_all([body("27831234572")], deadline=time.monotonic() + 3)
    assert (result.accepted, result.error_code) == (False, "connection_error")


class OneSlotAhead(SlotsAhead):
    """Grants one slot a reservation, whatever it asks for: the rest wait in the queue."""

    def reserve(self, count: int, *, not_after: float, first_contact: bool = False, **_: Any) -> Reservation:
        return super().reserve(1, not_after=not_after, first_contact=first_contact)


def test_only_the_sends_that_got_a_slot_are_connected_for(
    woosh: WooshStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three recipients, one slot: one connection ahead, not three (two would never be used).
    clock = FakeTime(1000.0)
    client, _budget = paced_client(woosh, clock, OneSlotAhead(clock))
    connects = record_connects(monkeypatch, clock)
    results = client.send_all([body(f"2783123458{i}") for i in range(3)], deadline=time.monotonic() + 20)
    assert [r.accepted for r in results] == [True, False, False]
    assert [r.error_code for r in results[1:]] == [no_slot("x").error_code] * 2
    assert len(connects) == 1
