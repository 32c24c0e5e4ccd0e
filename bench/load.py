"""Load beside a benchmark: a CPU hog on one core, and the load average while a run lasts.

`cpu_hog()` starts a busy loop in a child interpreter pinned to one core
(`os.sched_setaffinity`, where the platform has it) and kills it when the block ends. The
child also stops by itself after `max_seconds`, so a benchmark that dies cannot leave it
spinning. `LoadSampler` reads the 1-minute load average every few seconds; other engineers
run their tests on this machine too, so every run records what it ran beside.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

# The child: pin itself (when it can), then spin until its deadline.
_HOG = """
import os, sys, time
core = int(sys.argv[1])
if core >= 0 and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {core})
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    n += 1
"""


def hog_core() -> int:
    """The core the hog takes: the last one this process may run on (-1: cannot pin)."""
    if not hasattr(os, "sched_getaffinity"):
        return -1
    return max(os.sched_getaffinity(0))


@contextlib.contextmanager
def cpu_hog(max_seconds: float, *, enabled: bool = True) -> Iterator[dict[str, Any]]:
    """A busy loop on one core while the block runs (nothing when not `enabled`). Yields what
    to report: whether it ran, its core and its pid."""
    if not enabled:
        yield {"cpu_hog": False}
        return
    core = hog_core()
    child = subprocess.Popen([sys.executable, "-c", _HOG, str(core), f"{max_seconds:.0f}"])
    try:
        yield {"cpu_hog": True, "hog_core": core if core >= 0 else None, "hog_pid": child.pid}
    finally:
        child.kill()
        child.wait(timeout=10)


class LoadSampler:
    """The 1-minute load average at the start, every `every` seconds, and at the end."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self.samples.append(os.getloadavg()[0])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 1)
        self.samples.append(os.getloadavg()[0])

    def report(self) -> dict[str, Any]:
        return load_report(self.samples)


def load_report(samples: list[float]) -> dict[str, Any]:
    """Start, end, mean and max of 1-minute load averages sampled during a run (pure)."""
    if not samples:
        return {"load_start": None, "load_end": None, "load_mean": None, "load_max": None}
    return {
        "load_start": round(samples[0], 2),
        "load_end": round(samples[-1], 2),
        "load_mean": round(sum(samples) / len(samples), 2),
        "load_max": round(max(samples), 2),
    }
