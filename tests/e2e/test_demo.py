"""`make demo` (the README's first command) tells its two stories and exits 0."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from local.template import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_demo_runs_every_scene_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Alert Response Received: ticket EMG-2024-002 LIFT-B choice=entrapment" in out
    assert "EMG-2024-001 LIFT-A: state=awaiting_response" in out
    assert "Alert Escalated: ticket EMG-2024-003 LIFT-C round=1 reason=no_response" in out
    assert "state=answered outcome=entrapment, rounds_sent=1 next_due_at=None" in out
    # What each phone showed (issue 13): the tap acknowledged, the colleague told who answered.
    assert "<- text: Recorded: Entrapment for ticket EMG-2024-002" in out
    assert "answered by Thandi Technician: Entrapment" in out
    assert "Thandi Technician answered first: Entrapment" in out
    # Entrapment confirmation (issue 13): asked, reminded, confirmed by YES, closed, no more reminders.
    assert "Alert Provider Confirmed: ticket EMG-2024-005 LIFT-E by Sipho Colleague" in out
    assert "-> tapped YES" in out
    assert "state=closed close_reason=provider_confirmed outcome=entrapment" in out
    # Template-first (issue 12): the cold contact gets the template, the warm one buttons, and the
    # interactive message Meta refused with 131047 is replaced by the template, whose tap counts.
    assert "to 27825550100  template" in out
    assert "to 27835550101  interactive" in out
    assert "Alert Response Received: ticket EMG-2024-004 LIFT-D choice=maintenance" in out
    assert "GET: 27835550101 channel=template fallback=True" in out
    assert "template fallbacks made: 1; state=answered outcome=maintenance" in out
    # Load shedding (issue 14): twenty alarms at once, each lift's first contact reached, no 429.
    assert "20. Load shedding: 20 lifts alarm at once, 3 people each (60 messages)" in out
    assert "20 x POST /alerts -> 201" in out
    reached = re.findall(r"LIFT-L(\d\d): first contact reached after +\d+\.\ds, all 3 after", out)
    assert sorted(reached) == [f"{n:02d}" for n in range(1, 21)]
    assert "429 rate_limited answers from Woosh: 0" in out
    assert "FAILED" not in out
    assert "Traceback" not in result.stderr
