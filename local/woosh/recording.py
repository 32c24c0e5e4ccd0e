"""What the stand-in received and what it was told to do with the next sends.

`SendRecord` keeps every request to the send endpoint (accepted or not, oldest first), the
failures programmed for the next sends (`Fault`) and the delay every send waits before it is
answered; `wait_for` polls any such record until enough has arrived.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from local.woosh.send_api import SentMessage, digits

_T = TypeVar("_T")


@dataclass
class Fault:
    """A failure programmed for the next `remaining` sends (to `to`, or to anyone when None)."""

    to: str | None
    error: str | None
    status: int
    remaining: int
    delay: float
    raw_body: str | None


class SendRecord:
    """Every send received, the faults programmed for the next ones and the answer delay. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[SentMessage] = []
        self._faults: list[Fault] = []
        self._delay = 0.0

    @property
    def sent(self) -> list[SentMessage]:
        """A snapshot of every send received, oldest first."""
        with self._lock:
            return list(self._sent)

    def record(self, message: SentMessage) -> None:
        with self._lock:
            self._sent.append(message)

    def accepted(self, to: str | None = None) -> list[SentMessage]:
        wanted = digits(to) if to else None
        return [m for m in self.sent if m.accepted and (wanted is None or m.to == wanted)]

    def message(self, message_id: str) -> SentMessage:
        for message in self.sent:
            if message.message_id == message_id:
                return message
        raise KeyError(f"no accepted send with message id {message_id!r}")

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, to: str) -> Fault | None:
        """The first fault that applies to a send to `to`, counted as used (gone when used up)."""
        with self._lock:
            for fault in self._faults:
                if fault.to is None or fault.to == to:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @property
    def delay(self) -> float:
        with self._lock:
            return self._delay

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = max(0.0, seconds)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._faults.clear()
            self._delay = 0.0


def wait_for(read: Callable[[], list[_T]], count: int, timeout: float, what: str) -> list[_T]:
    """Poll `read()` until it returns at least `count` items; raises TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        snapshot = read()
        if len(snapshot) >= count:
            return snapshot
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{len(snapshot)} {what}, {count} expected")
        time.sleep(0.02)
