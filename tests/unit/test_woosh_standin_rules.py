"""The stand-in Woosh Bridge's own rules without a server: command line, limits, reply windows,
template shapes (its HTTP side is tests/component/test_woosh_standin.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from local.woosh.cli import standin_from_args
from local.woosh.delivery import DelayedCalls
from local.woosh.errors import Rejected
from local.woosh.limits import REPLY_WINDOW_SECONDS, RateLimiter, RateLimits, ReplyWindows
from local.woosh.templates import TemplateShape, validate_template
from local.woosh_standin import WooshStandIn


def test_unknown_status_form_is_refused() -> None:
    with pytest.raises(ValueError, match="status_form"):
        WooshStandIn(api_key="test-woosh-key", status_form="nope")  # type: ignore[arg-type]


def test_delayed_calls_run_once_unless_cancelled() -> None:
    calls: list[str] = []
    later = DelayedCalls()
    later.schedule(0.05, lambda: calls.append("kept"))
    time.sleep(0.3)
    later.schedule(0.05, lambda: calls.append("cancelled"))
    later.cancel_all()
    time.sleep(0.3)
    assert calls == ["kept"]


def test_reply_windows_are_24_hours() -> None:
    now = [1_000_000.0]
    windows = ReplyWindows(clock=lambda: now[0])
    assert not windows.is_open("27824537125")
    windows.wrote("27824537125")
    now[0] += REPLY_WINDOW_SECONDS
    assert windows.is_open("27824537125")
    now[0] += 1
    assert not windows.is_open("27824537125")
    windows.wrote("27824537125", at=now[0] - 10)
    windows.wrote("27824537125", at=now[0] - 100_000)  # an older message never closes a newer window
    assert windows.is_open("27824537125")


def test_validate_template_directly() -> None:
    shapes = {"lift_alert": TemplateShape(body_params=1, buttons=("Yes", "No"), language="en")}
    body: dict[str, Any] = {"template": {"name": "lift_alert", "language": {"code": "en"}, "components": []}}
    with pytest.raises(Rejected) as caught:
        validate_template(body, shapes, ())
    assert (caught.value.status, caught.value.meta_code) == (502, 132000)
    body["template"]["components"] = [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}]
    # quick replies not given a payload at send time tap with their label, as Meta does
    assert validate_template(body, shapes, ()) == [("Yes", "Yes"), ("No", "No")]


def test_template_shape_from_json() -> None:
    shape = TemplateShape.from_json(
        {"body_params": 1, "buttons": ["A", "B"], "static_payloads": True, "language": "en_US"}
    )
    assert shape == TemplateShape(1, ("A", "B"), True, "en_US")
    with pytest.raises(ValueError, match="unknown"):
        TemplateShape.from_json({"params": 1})


def test_rate_limiter_allows_ten_a_second_and_a_hundred_a_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(), clock=lambda: now[0])
    admitted = 0
    # 10 every 1.01 s: the burst limit is reached each second, the minute limit after 100.
    for _ in range(13):
        for _ in range(11):
            admitted += limiter.admit("key") is None
        now[0] += 1.01
    assert admitted == 100
    assert limiter.refused == 13 * 11 - 100
    # the oldest of the hundred leaves the 60 s window at 60 s after it was admitted
    now[0] = 60.0
    assert limiter.admit("key") is None
    assert limiter.admit("other-key") is None  # per API key


def test_rate_limiter_wait_and_time_scale() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(per_second=2, per_minute=3, time_scale=0.1), clock=lambda: now[0])
    assert limiter.admit("k") is None
    assert limiter.admit("k") is None
    assert limiter.admit("k") == pytest.approx(0.1)  # burst window 0.1 s
    now[0] = 0.1
    assert limiter.admit("k") is None
    now[0] = 0.2
    assert limiter.admit("k") == pytest.approx(5.8)  # minute window 6 s, oldest admitted at 0
    now[0] = 6.0
    assert limiter.admit("k") is None


def test_command_line_flags_switch_the_behaviours_on(tmp_path: Path) -> None:
    shapes = tmp_path / "templates.json"
    shapes.write_text(json.dumps({"lift_alert": {"body_params": 1, "static_payloads": True}}))
    standin = standin_from_args(
        [
            "--port",
            "0",
            "--callback-token",
            "local-callback-token",
            "--signing-secret",
            "s",
            "--status-form",
            "both",
            "--enforce-window",
            "--window-failure-delay",
            "0.5",
            "--rate-limits",
            "--rate-time-scale",
            "0.1",
            "--templates",
            f"@{shapes}",
        ]
    )
    assert standin.callback_token == "local-callback-token"
    assert standin.signing_secret == "s"
    assert standin.status_form == "both"
    assert standin.enforce_window is True
    assert standin.window_failure_delay == 0.5
    assert standin.rate_limits == RateLimits(time_scale=0.1)
    assert standin.templates == {"lift_alert": TemplateShape(body_params=1, static_payloads=True)}


def test_command_line_reads_the_environment_and_defaults_to_todays_behaviour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = standin_from_args(["--port", "0"])
    assert (plain.callback_token, plain.status_form, plain.enforce_window, plain.rate_limits) == (
        None,
        "meta",
        False,
        None,
    )
    assert plain.templates is None
    monkeypatch.setenv("WOOSH_STANDIN_CALLBACK_TOKEN", "env-token")
    monkeypatch.setenv("WOOSH_STANDIN_STATUS_FORM", "wrapper")
    monkeypatch.setenv("WOOSH_STANDIN_ENFORCE_WINDOW", "1")
    monkeypatch.setenv("WOOSH_STANDIN_RATE_LIMITS", "true")
    monkeypatch.setenv("WOOSH_STANDIN_TEMPLATES", '{"t": {"body_params": 2, "language": "en_US"}}')
    configured = standin_from_args(["--port", "0"])
    assert configured.callback_token == "env-token"
    assert configured.status_form == "wrapper"
    assert configured.enforce_window is True
    assert configured.rate_limits == RateLimits()
    assert configured.templates == {"t": TemplateShape(body_params=2, language="en_US")}
    switched_off = standin_from_args(["--port", "0", "--no-enforce-window", "--no-rate-limits"])
    assert (switched_off.enforce_window, switched_off.rate_limits) == (False, None)
    monkeypatch.setenv("WOOSH_STANDIN_RATE_PER_MINUTE", "50")
    assert standin_from_args(["--port", "0", "--rate-per-second", "5"]).rate_limits == RateLimits(5, 50)
