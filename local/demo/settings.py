"""The story's people, and the local stack's timings shortened so every scene takes seconds."""

from __future__ import annotations

from pathlib import Path

TECHNICIAN = "+27824537125"
COLLEAGUE = "+27831234567"
SUPERVISOR = "+27820000001"
NEW_TECHNICIAN = "+27825550100"
WARM_COLLEAGUE = "+27835550101"
ESCALATE_AFTER_SECONDS = 3
# Entrapment confirmation reminders, shortened like escalation so the scene takes seconds.
CONFIRM_AFTER_SECONDS = 4
CONFIRM_ROUNDS = 2
# No shortened timer: the stack runs the one-minute sweep at its deployed period (SPEC §12), and
# each timed step still comes within seconds of its due time, through its own wake-up. A step
# must reach Woosh within this many seconds of its due time over the local stack.
STEP_GOAL_SECONDS = 3.0
# Woosh's rate windows (1 s, 60 s) for the stand-in and the service's send budget together:
# the load-shedding scene's burst plays out in seconds (the other scenes send too few to tell).
RATE_TIME_SCALE = 0.1
LOAD_SHEDDING_ALARMS = 20
LOAD_SHEDDING_RECIPIENTS = 3
# local/.state, beside the local stack's own state file (git ignores it).
LOG_PATH = Path(__file__).resolve().parents[1] / ".state" / "demo-stack.log"
EVENT_WAIT_SECONDS = 15.0
