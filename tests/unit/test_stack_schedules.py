"""The local stack runs each schedule at its deployed period (SPEC §8, §12): the one-minute sweep
every 60 s, never a kinder 5 s, unless LOCAL_TIMER_SECONDS says otherwise."""

from __future__ import annotations

import pytest

from local.event_sources import schedule_period
from local.stack_config import StackConfig
from local.template import Template, TemplateError


def test_every_schedule_of_the_template_runs_at_its_own_period() -> None:
    periods = {
        f"{logical_id}.{event.name}": schedule_period(str(event.properties["Schedule"]))
        for logical_id, spec in Template.load().functions().items()
        for event in spec.events
        if event.type == "Schedule"
    }
    assert periods == {"EscalationFunction.Tick": 60, "DispatcherFunction.Tick": 60}


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86_400)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert schedule_period(expression) == seconds


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "rate(1 second)", "every minute", ""])
def test_what_is_not_emulated_is_refused(expression: str) -> None:
    with pytest.raises(TemplateError):
        schedule_period(expression)


def test_by_default_no_timer_overrides_the_deployed_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_TIMER_SECONDS", raising=False)
    assert StackConfig.from_env().timer_seconds is None
    monkeypatch.setenv("LOCAL_TIMER_SECONDS", "0.5")
    assert StackConfig.from_env().timer_seconds == 0.5
