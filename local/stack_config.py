"""What the local stack runs with: `StackConfig`, read from the environment by `python -m local.stack`.

Ports (AWS_PORT, API_PORT, WOOSH_PORT), an external Bridge (WOOSH_BASE_URL), the schedules'
period (LOCAL_TIMER_SECONDS; unset: each schedule's own, as deployed), the template
parameters that name the approved templates, Woosh's rate windows scaled in time and the
functions' instances.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from local.lambda_runtime import DEFAULT_INSTANCES


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"error: {name} must be a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise SystemExit(f"error: {name} must be between 0 and 65535, got {value}")
    return value


# The local stack runs as a real deployment should (template-first, SPEC §5) with a template
# shaped like the customer's approved one: one body variable, here the whole alert text on one
# line (`text`), so a reminder still says REMINDER n/N. Set
# ALERT_TEMPLATE_NAME (empty: interactive-only) or ALERT_TEMPLATE_PARAMS to run otherwise.
LOCAL_TEMPLATE_NAME = "lift_alarm"
LOCAL_TEMPLATE_PARAMS = "text"
# Notices (acknowledgements, outcome, critical) to people outside their window (SPEC §10).
LOCAL_NOTICE_TEMPLATE_NAME = "lift_notice"
# The entrapment confirmation's YES question to people outside their window (SPEC §10).
LOCAL_CONFIRM_TEMPLATE_NAME = "lift_confirm"


def _template_parameters() -> dict[str, str]:
    name = os.environ.get("ALERT_TEMPLATE_NAME", LOCAL_TEMPLATE_NAME).strip()
    params = os.environ.get("ALERT_TEMPLATE_PARAMS", "").strip() or LOCAL_TEMPLATE_PARAMS
    notice = os.environ.get("NOTICE_TEMPLATE_NAME", LOCAL_NOTICE_TEMPLATE_NAME).strip()
    confirm = os.environ.get("CONFIRM_TEMPLATE_NAME", LOCAL_CONFIRM_TEMPLATE_NAME).strip()
    return {
        "AlertTemplateName": name,
        "AlertTemplateParams": params,
        "NoticeTemplateName": notice,
        "ConfirmTemplateName": confirm,
    }


@dataclass
class StackConfig:
    aws_port: int = 5000
    api_port: int = 3000
    woosh_port: int = 3001
    woosh_base_url: str | None = None
    # Every Schedule event runs at its deployed period (the one-minute sweep every 60 s): the
    # stack is never kinder than AWS (SPEC §8, §12). A number here runs them all that often.
    timer_seconds: float | None = None
    instances: int = DEFAULT_INSTANCES
    template_path: Path | None = None
    parameters: dict[str, str] = field(default_factory=_template_parameters)
    # The stand-in Woosh enforces what the real Bridge and Meta do (SPEC §8): off only for
    # scripts that study something else.
    woosh_like_real: bool = True
    # Woosh's rate windows scaled in time (0.5: 0.5 s and 30 s), for the stand-in and the
    # functions' send budget together, so the two always agree (the mass-alarm benchmark).
    rate_time_scale: float = 1.0
    # The functions' margin on each window (WOOSH_RATE_GUARD_MS), None: the template's.
    rate_guard_ms: float | None = None

    @classmethod
    def from_env(cls) -> StackConfig:
        timer = os.environ.get("LOCAL_TIMER_SECONDS", "").strip()
        scale = os.environ.get("LOCAL_RATE_TIME_SCALE", "").strip()
        guard = os.environ.get("LOCAL_RATE_GUARD_MS", "").strip()
        # Lambda runs one instance per concurrent request; a load test needs as many.
        instances = os.environ.get("LOCAL_FUNCTION_INSTANCES", "").strip()
        return cls(
            aws_port=_port("AWS_PORT", 5000),
            api_port=_port("API_PORT", 3000),
            woosh_port=_port("WOOSH_PORT", 3001),
            woosh_base_url=os.environ.get("WOOSH_BASE_URL", "").strip() or None,
            timer_seconds=float(timer) if timer else None,
            instances=int(instances) if instances else DEFAULT_INSTANCES,
            rate_time_scale=float(scale) if scale else 1.0,
            rate_guard_ms=float(guard) if guard else None,
        )
