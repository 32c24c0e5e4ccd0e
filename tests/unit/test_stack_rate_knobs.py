"""The local stack's knobs for load tests: Woosh's windows scaled for the stand-in and the
functions' budget together, the budget's margin, and one instance per concurrent request."""

from __future__ import annotations

import pytest

from local.lambda_runtime import DEFAULT_INSTANCES
from local.stack import LocalStack
from local.stack_config import StackConfig


def test_by_default_the_stack_runs_woosh_s_real_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOCAL_RATE_TIME_SCALE", "LOCAL_RATE_GUARD_MS", "LOCAL_FUNCTION_INSTANCES"):
        monkeypatch.delenv(name, raising=False)
    config = StackConfig.from_env()
    assert (config.rate_time_scale, config.rate_guard_ms, config.instances) == (1.0, None, DEFAULT_INSTANCES)
    assert LocalStack(config)._rate_overrides() == {}


def test_a_scaled_stack_paces_its_functions_on_the_stand_in_s_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCAL_RATE_TIME_SCALE", "0.5")
    monkeypatch.setenv("LOCAL_RATE_GUARD_MS", "100")
    monkeypatch.setenv("LOCAL_FUNCTION_INSTANCES", "28")
    config = StackConfig.from_env()
    assert (config.rate_time_scale, config.instances) == (0.5, 28)
    assert LocalStack(config)._rate_overrides() == {
        "WOOSH_RATE_TIME_SCALE": "0.5",
        "WOOSH_RATE_GUARD_MS": "100",
    }
