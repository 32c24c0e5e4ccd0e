"""A wall clock a test moves: what the send budget and the Woosh client read and sleep on."""

from __future__ import annotations


class FakeTime:
    """`sleep` moves the clock by what was asked, plus `overrun` once (a busy host's timer
    waking late); every sleep asked for is kept in `slept`."""

    def __init__(self, now: float, overrun: float = 0.0) -> None:
        self.now = now
        self.overrun = overrun
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    time = clock

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds + self.overrun
        self.overrun = 0.0
