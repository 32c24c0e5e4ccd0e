"""Scene 5, the entrapment confirmation (steps 16-19): after an Entrapment tap on Lift E everyone
messaged is asked to confirm the service provider was called, reminded while nobody taps YES;
the colleague's YES on the reminder closes the alert and no further reminder goes out.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from local.demo.client import Demo, button_index, event_for, message_for
from local.demo.messages import button_titles, digits, text_lines
from local.demo.narration import check, say
from local.demo.settings import (
    COLLEAGUE,
    CONFIRM_AFTER_SECONDS,
    CONFIRM_ROUNDS,
    STEP_GOAL_SECONDS,
    SUPERVISOR,
    TECHNICIAN,
)


def confirmation_scene(demo: Demo) -> None:
    since = time.time()
    say("\n16. Lift E: the technician finds a passenger trapped and taps Entrapment")
    people = (
        (TECHNICIAN, "Thandi Technician"),
        (COLLEAGUE, "Sipho Colleague"),
        (SUPERVISOR, "Lerato Supervisor"),
    )
    alert = demo.send_alert("EMG-2024-005", "LIFT-E", "4", [phone for phone, _name in people])
    tech_message = next(m for m in alert["messages"] if m["to"] == digits(TECHNICIAN))
    tech_sent = message_for(demo.sent_messages(), tech_message["message_id"])
    demo.tap(tech_message["message_id"], button_index(tech_sent, "Entrapment"), "Thandi Technician")
    say(
        f"  everyone messaged is asked to confirm the service provider was called; with no YES,"
        f" REMINDER n/{CONFIRM_ROUNDS} every {CONFIRM_AFTER_SECONDS}s"
    )

    def question_to(to: str, heading: str) -> Any:
        return lambda m: (
            m["to"] == to
            and m["message_id"]
            and heading in text_lines(m)
            and "ENTRAPMENT - ticket EMG-2024-005" in text_lines(m)
            and "YES" in button_titles(m)
        )

    colleague = digits(COLLEAGUE)
    demo.wait_for_sent(question_to(colleague, "ENTRAPMENT - ticket EMG-2024-005"), timeout=15)
    requested = _epoch(str((demo.get_alert(alert["alert_id"])["confirmation"] or {}).get("requested_at")))
    say("\n17. Nobody taps YES; its wake-up sends REMINDER 1/2 of the question")
    reminder = demo.wait_for_sent(question_to(colleague, "REMINDER 1/2"), timeout=CONFIRM_AFTER_SECONDS + 15)
    late = reminder["received_at"] - (requested + CONFIRM_AFTER_SECONDS)
    say(f"  REMINDER 1/2 reached Woosh {late:.1f}s after it was due")
    check(
        0 <= late <= STEP_GOAL_SECONDS,
        f"the confirmation reminder reached Woosh {late:.1f}s after it was due",
    )
    say("\n18. The colleague has called the service provider and taps YES on the reminder")
    demo.tap(reminder["message_id"], button_index(reminder, "YES"), "Sipho Colleague")
    confirmed = event_for(demo, "Alert Provider Confirmed", alert["alert_id"])
    say(
        f"  Alert Provider Confirmed: ticket {confirmed['ticket_id']} {confirmed['lift_id']}"
        f" by {confirmed['confirmed_by'].get('name')} event_id={confirmed['event_id']}"
    )
    demo.wait_for_sent(
        lambda m: (
            m["to"] == digits(SUPERVISOR) and "confirmed the service provider" in " ".join(text_lines(m))
        ),
        timeout=15,
    )
    time.sleep(max(0.0, requested + 2 * CONFIRM_AFTER_SECONDS + STEP_GOAL_SECONDS - time.time()))  # past 2/2
    final = demo.get_alert(alert["alert_id"])
    check(
        final["state"] == "closed" and final["close_reason"] == "provider_confirmed",
        f"final: {final['state']}",
    )
    late = [
        m
        for m in demo.sent_messages()
        if "REMINDER 2/2" in text_lines(m) and "ENTRAPMENT - ticket EMG-2024-005" in text_lines(m)
    ]
    check(not late, "a confirmation reminder went out after the YES")

    say("\n19. What each phone showed for Lift E")
    total = 0
    for phone, name in people:
        lines = demo.show_conversation(phone, name, since, ticket="EMG-2024-005")
        total += sum(1 for _at, line in lines if line.startswith("<-"))
    confirmation = final["confirmation"]
    say(
        f"  state={final['state']} close_reason={final['close_reason']} outcome={final['outcome']}"
        f" confirmation rounds_sent={confirmation['rounds_sent']}; messages sent for Lift E: {total}"
    )


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
