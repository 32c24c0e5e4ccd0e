"""Scene 6, load shedding (step 20, SPEC §11): twenty lifts alarm at once against Woosh's limits
(scaled in time for the stand-in and the send budget together); when each lift's first contact
was reached, and that Woosh never had to answer 429.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.demo.client import Demo
from local.demo.messages import digits
from local.demo.narration import check, say
from local.demo.settings import LOAD_SHEDDING_ALARMS, LOAD_SHEDDING_RECIPIENTS, RATE_TIME_SCALE


def _load_shedding_phone(lift: int, position: int) -> str:
    return f"+27827{lift:02d}{position:04d}"


def load_shedding_scene(demo: Demo) -> None:
    """Scene 6 (SPEC §11): the power fails across the region and every lift alarms at once.

    The stack runs Woosh's limits (and the service's send budget with them) at RATE_TIME_SCALE
    of their real windows, so a burst worth minutes plays out in seconds. Each lift's first
    contact should be reached as early as the limits allow, and Woosh should never have to
    answer 429: the service paces itself.
    """
    second, minute = RATE_TIME_SCALE, 60 * RATE_TIME_SCALE
    total = LOAD_SHEDDING_ALARMS * LOAD_SHEDDING_RECIPIENTS
    say(
        f"\n20. Load shedding: {LOAD_SHEDDING_ALARMS} lifts alarm at once, {LOAD_SHEDDING_RECIPIENTS} people"
        f" each ({total} messages); Woosh allows 10 a second and 100 a minute, here scaled to 10 per"
        f" {second:g} s and 100 per {minute:g} s"
    )
    time.sleep(minute + 0.5)  # the earlier scenes' messages leave the minute window
    refused_before = demo.stats()["rate_limited"]
    lifts = {
        f"LIFT-L{lift:02d}": [_load_shedding_phone(lift, p) for p in range(LOAD_SHEDDING_RECIPIENTS)]
        for lift in range(1, LOAD_SHEDDING_ALARMS + 1)
    }
    posted = time.time()

    def post(item: tuple[str, list[str]]) -> dict[str, Any]:
        lift, recipients = item
        body = {
            "ticket_id": f"EMG-LS-{lift[-2:]}",
            "lift_id": lift,
            "site": "Midrand Business Park",
            "floor": "G",
            "recipients": recipients,
            "note": "Power failure: alarm from car",
        }
        response = demo.http.post(f"{demo.api}/alerts", json=body, timeout=30)
        check(response.status_code == 201, f"POST /alerts for {lift} answered {response.status_code}")
        answer: dict[str, Any] = response.json()
        return answer

    with ThreadPoolExecutor(max_workers=LOAD_SHEDDING_ALARMS) as pool:
        answers = list(pool.map(post, lifts.items()))
    answered = time.time() - posted
    queued = sum(1 for a in answers for m in a["messages"] if m["status"] == "queued")
    say(
        f"  {len(answers)} x POST /alerts -> 201 within {answered:.1f}s;"
        f" {queued} message(s) queued for a send slot"
    )
    phones = {digits(p) for recipients in lifts.values() for p in recipients}
    deadline = time.monotonic() + 30
    while True:
        reached = {
            m["to"]: m["received_at"] for m in demo.sent_messages() if m["to"] in phones and m["message_id"]
        }
        if len(reached) == total or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(len(reached) == total, f"only {len(reached)} of {total} messages were accepted by Woosh")
    for lift, recipients in lifts.items():
        first = reached[digits(recipients[0])] - posted
        everyone = max(reached[digits(p)] for p in recipients) - posted
        say(
            f"  {lift}: first contact reached after {first:4.1f}s,"
            f" all {len(recipients)} after {everyone:4.1f}s"
        )
    firsts = max(reached[digits(r[0])] for r in lifts.values()) - posted
    last = max(reached.values()) - posted
    refused = demo.stats()["rate_limited"] - refused_before
    say(
        f"  every lift's first contact reached after {firsts:.1f}s, every message after {last:.1f}s"
        f" (the scaled limits alone would allow all {total} within {((total - 1) // 10) * second:.1f}s:"
        " here the local stack's own speed sets the pace, and the budget keeps every burst within"
        " the limits)"
    )
    say(f"  429 rate_limited answers from Woosh: {refused}")
    check(refused == 0, f"Woosh answered 429 {refused} times")
