"""The whole story: start the local stack, tell every scene in order, stop the stack, report."""

from __future__ import annotations

import time

import requests

from local.demo.client import Demo
from local.demo.confirmation import confirmation_scene
from local.demo.conversations import conversations_scene
from local.demo.escalation import escalation_scene
from local.demo.load_shedding import load_shedding_scene
from local.demo.multi_emergency import multi_emergency_scene
from local.demo.narration import StoryError, say
from local.demo.settings import (
    CONFIRM_AFTER_SECONDS,
    CONFIRM_ROUNDS,
    LOG_PATH,
    RATE_TIME_SCALE,
)
from local.demo.template_first import template_first_scene
from local.process import StackProcess, StackStartError


def run_story(demo: Demo) -> None:
    started = time.time()
    multi_emergency_scene(demo)
    conversations_scene(demo, started)
    escalation_scene(demo)
    template_first_scene(demo)
    confirmation_scene(demo)
    load_shedding_scene(demo)


def main() -> int:
    started = time.monotonic()
    say("Starting the local stack (moto, HTTP API, stand-in Woosh Bridge)...")
    stack = StackProcess(
        log_path=LOG_PATH,
        env={
            "CONFIRM_AFTER_SECONDS": str(CONFIRM_AFTER_SECONDS),
            "CONFIRM_MAX_ROUNDS": str(CONFIRM_ROUNDS),
            "LOCAL_RATE_TIME_SCALE": str(RATE_TIME_SCALE),
        },
    )
    try:
        stack.start()
    except StackStartError as exc:
        say(f"error: {exc}")
        return 1
    say(f"  API {stack.info['api_url']}  Woosh {stack.info['woosh_url']}  (function logs: {LOG_PATH})\n")
    ok = False
    try:
        run_story(Demo(stack.info))
        ok = True
    except StoryError as exc:
        say(f"\nFAILED: {exc}")
    except requests.RequestException as exc:
        say(f"\nFAILED: HTTP error {exc}")
    finally:
        code = stack.stop()
        stack.cleanup()
    say(f"\nStack stopped (exit {code}).")
    if ok:
        say(
            "The Entrapment tap reached EMG-2024-002 (Lift B), not Lift A; the unanswered Lift C alarm"
            " escalated to the supervisor, whose tap stopped it; the technician who never wrote got the"
            " template, and the interactive message Meta refused was replaced by it; Lift E's entrapment"
            " was followed until a YES confirmed the service provider was called."
            f" Done in {time.monotonic() - started:.1f}s."
        )
        return 0
    say(f"See {LOG_PATH} for the stack's log.")
    return 1
