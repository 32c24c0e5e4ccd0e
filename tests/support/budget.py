"""The send budget's knobs as tests turn them (SPEC §11; `lift_alerts.domain.send_slots.PacingLimits`).

The test environment shrinks Woosh's windows to a hundredth with no guard
(`tests/support/environment.py`), so tests that send more than 100 messages stay fast.
"""

from __future__ import annotations

import pytest

# WOOSH_RATE_GUARD_MS as deployed (template.yaml): a sender that wakes more than half of it
# (+ 5 ms) after its slot gives the slot up. With no guard that is 5 ms, which a loaded CI
# machine's timers overshoot (a lone alarm's recipients were queued instead of sent).
DEPLOYED_GUARD_MS = "50"
# WOOSH_RATE_MINUTE_GUARD_MS as deployed: the long window's own guard.
DEPLOYED_MINUTE_GUARD_MS = "250"


def real_windows(monkeypatch: pytest.MonkeyPatch, *, per_minute: int | None = None) -> None:
    """Woosh's real windows (1 s, 60 s) with the deployed guard; `per_minute` lowers the
    minute's limit so a test runs out of slots after a few messages."""
    monkeypatch.setenv("WOOSH_RATE_TIME_SCALE", "1")
    monkeypatch.setenv("WOOSH_RATE_GUARD_MS", DEPLOYED_GUARD_MS)
    monkeypatch.setenv("WOOSH_RATE_MINUTE_GUARD_MS", DEPLOYED_MINUTE_GUARD_MS)
    if per_minute is not None:
        monkeypatch.setenv("WOOSH_RATE_PER_MINUTE", str(per_minute))


def budget_frees_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minute window shrinks to 0.6 s with no guard: every slot the budget refused is free
    at once."""
    monkeypatch.setenv("WOOSH_RATE_TIME_SCALE", "0.01")
    monkeypatch.setenv("WOOSH_RATE_GUARD_MS", "0")
    monkeypatch.setenv("WOOSH_RATE_MINUTE_GUARD_MS", "0")
