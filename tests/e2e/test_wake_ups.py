"""On time over the local stack (SPEC §12): with the sweep at its deployed 60 s, a reminder and an
entrapment confirmation reminder each reach the stand-in Bridge within 3 s of when they are due,
because each timed step has a wake-up of its own (an SQS message delayed until due).

The waits here (a few seconds) are far shorter than the sweep's minute: a step that only the sweep
ran would come up to a minute late, and these tests would fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from local.process import StackProcess
from tests.support.e2e import post_alert, recorded, sent_where, shown, tap

TECHNICIAN = "+27824537125"
COLLEAGUE = "+27831234567"
AFTER = 4  # seconds between escalation steps, and between confirmation steps
GOAL = 3.0  # SPEC §12 over the local stack: within 3 s of due


@pytest.fixture(scope="module")
def deployed_sweep() -> Iterator[StackProcess]:
    # No LOCAL_TIMER_SECONDS: the schedules run at their deployed period (the sweep every 60 s).
    with StackProcess(env={"CONFIRM_AFTER_SECONDS": str(AFTER), "CONFIRM_MAX_ROUNDS": "1"}) as process:
        yield process


def _created(api: str, alert_id: str) -> float:
    created = requests.get(f"{api}/alerts/{alert_id}", timeout=10).json()["created_at"]
    return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()


def test_the_stack_runs_the_sweep_at_its_deployed_period(deployed_sweep: StackProcess) -> None:
    assert "Schedules at their deployed periods (the sweep every 60s" in deployed_sweep.log_text()


def test_a_reminder_reaches_the_bridge_within_3_s_of_due(deployed_sweep: StackProcess) -> None:
    api, woosh = deployed_sweep.info["api_url"], deployed_sweep.info["woosh_url"]
    alert = post_alert(
        api, "EMG-WAKE-1", "LIFT-W", [TECHNICIAN], escalation={"after_seconds": AFTER, "max_rounds": 1}
    )
    due = _created(api, alert["alert_id"]) + AFTER  # created_at is whole seconds, as the due time
    reminder = sent_where(
        woosh,
        lambda m: m["to"] == TECHNICIAN.lstrip("+") and shown(m).startswith("REMINDER 1/1"),
        timeout=AFTER + 20,
    )
    assert due <= reminder["received_at"] <= due + GOAL, reminder["received_at"] - due


def test_a_confirmation_reminder_reaches_the_bridge_within_3_s_of_due(deployed_sweep: StackProcess) -> None:
    api, woosh = deployed_sweep.info["api_url"], deployed_sweep.info["woosh_url"]
    alert = post_alert(
        api, "EMG-WAKE-2", "LIFT-X", [COLLEAGUE], escalation={"after_seconds": 600, "max_rounds": 1}
    )
    first = alert["messages"][0]["message_id"]
    recorded(api, alert["alert_id"], COLLEAGUE, first)
    tap(woosh, first, 2, "Colleague")  # Entrapment: the confirmation is requested at once
    question = sent_where(
        woosh,
        lambda m: (
            m["to"] == COLLEAGUE.lstrip("+") and "service provider" in shown(m) and "REMINDER" not in shown(m)
        ),
        timeout=20,
    )
    deadline = time.monotonic() + 20
    requested_at = None
    while requested_at is None and time.monotonic() < deadline:
        confirmation = requests.get(f"{api}/alerts/{alert['alert_id']}", timeout=10).json()["confirmation"]
        requested_at = (confirmation or {}).get("requested_at")
        time.sleep(0.1)
    assert requested_at is not None, question
    due = datetime.fromisoformat(requested_at.replace("Z", "+00:00")).timestamp() + AFTER
    reminder = sent_where(
        woosh,
        lambda m: (
            m["to"] == COLLEAGUE.lstrip("+") and "service provider" in shown(m) and "REMINDER 1/1" in shown(m)
        ),
        timeout=AFTER + 20,
    )
    assert due <= reminder["received_at"] <= due + GOAL, reminder["received_at"] - due
