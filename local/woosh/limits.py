"""Woosh's rate limits per API key and WhatsApp's 24-hour reply window, as the stand-in applies them."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

REPLY_WINDOW_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class RateLimits:
    """Woosh allows bursts of `per_second` and `per_minute` messages in any 60 s per API key (SPEC §5).

    `time_scale` shrinks both windows for tests and benchmarks: 0.1 makes them 0.1 s and 6 s.
    """

    per_second: int = 10
    per_minute: int = 100
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.per_second < 1 or self.per_minute < 1:
            raise ValueError("rate limits must allow at least one message")
        if not self.time_scale > 0:
            raise ValueError("time_scale must be positive")

    @property
    def short_window(self) -> float:
        return 1.0 * self.time_scale

    @property
    def long_window(self) -> float:
        return 60.0 * self.time_scale


class RateLimiter:
    """Sliding windows of admitted requests per API key; a refused request uses no capacity."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}
        self._refused = 0

    def admit(self, api_key: str) -> float | None:
        """None when the request may go ahead (and is counted), else the seconds until it could."""
        now = self._clock()
        with self._lock:
            times = self._admitted.setdefault(api_key, deque())
            while times and times[0] <= now - self.limits.long_window:
                times.popleft()
            waits = []
            if len(times) >= self.limits.per_minute:
                waits.append(times[-self.limits.per_minute] + self.limits.long_window - now)
            recent = sum(1 for at in times if at > now - self.limits.short_window)
            if recent >= self.limits.per_second:
                waits.append(times[-self.limits.per_second] + self.limits.short_window - now)
            if waits:
                self._refused += 1
                return max(0.0, *waits)
            times.append(now)
            return None

    @property
    def refused(self) -> int:
        with self._lock:
            return self._refused

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()
            self._refused = 0


def retry_after_header(wait: float) -> str:
    """Whole seconds (HTTP's Retry-After has no fractions), at least 1."""
    return str(max(1, math.ceil(wait)))


class ReplyWindows:
    """When each person (phone digits) last wrote to the business, for WhatsApp's 24-hour rule."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last_wrote: dict[str, float] = {}

    def wrote(self, phone: str, at: float | None = None) -> None:
        """`phone` wrote at `at` (Unix seconds, default now); an older time never closes a newer window."""
        moment = self._clock() if at is None else at
        with self._lock:
            self._last_wrote[phone] = max(moment, self._last_wrote.get(phone, moment))

    def last_wrote(self, phone: str) -> float | None:
        with self._lock:
            return self._last_wrote.get(phone)

    def is_open(self, phone: str) -> bool:
        last = self.last_wrote(phone)
        return last is not None and self._clock() - last <= REPLY_WINDOW_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._last_wrote.clear()
