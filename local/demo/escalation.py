"""Scene 3, escalation (steps 8-12): an alarm for Lift C that nobody answers. After
`after_seconds` the timer sends "REMINDER 1/2" to the technician and to the supervisor (the
escalation recipient); the supervisor taps Entrapment on the reminder, which matches by
context.id and stops the escalation: no second round follows.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from local.demo.client import Demo, button_index
from local.demo.messages import digits, first_line, text_lines
from local.demo.narration import StoryError, check, say, show_event, show_message
from local.demo.settings import ESCALATE_AFTER_SECONDS, STEP_GOAL_SECONDS, SUPERVISOR, TECHNICIAN


def escalation_scene(demo: Demo) -> None:
    after = ESCALATE_AFTER_SECONDS
    say("\n8. A third alarm (Lift C); the technician's phone is in a locker, nobody answers")
    alert = demo.send_alert(
        "EMG-2024-003",
        "LIFT-C",
        "1",
        [TECHNICIAN],
        escalation={"after_seconds": after, "max_rounds": 2, "recipients": [SUPERVISOR]},
    )
    alert_id = alert["alert_id"]
    created = _epoch(demo.get_alert(alert_id)["created_at"])
    say(
        f"  escalation: reminders every {after}s (2 rounds) to the technician and the supervisor"
        f" {digits(SUPERVISOR)}, then 'unanswered'; each step has its own wake-up (the sweep, the"
        " backstop, runs once a minute as deployed)"
    )

    say("\n9. Nobody taps; the timer sends round 1 to everyone, the supervisor included")
    supervisor = digits(SUPERVISOR)

    def reminder_to(to: str) -> Any:
        return lambda m: (
            m["to"] == to
            and m["message_id"]
            and first_line(m).startswith("REMINDER 1/2")
            and "LIFT ALARM - ticket EMG-2024-003" in text_lines(m)
        )

    reminders = {
        to: demo.wait_for_sent(reminder_to(to), timeout=after + 15) for to in (digits(TECHNICIAN), supervisor)
    }
    for message in reminders.values():
        late = message["received_at"] - (created + after)
        show_message(
            message,
            f"  {message['received_at'] - created:.1f}s after the alarm, {late:.1f}s after it was due",
        )
        check(0 <= late <= STEP_GOAL_SECONDS, f"round 1 reached Woosh {late:.1f}s after it was due")
    reminder = reminders[supervisor]
    check(reminder["message_id"] not in {m["message_id"] for m in alert["messages"]}, "no new message id")

    say("\n10. The supervisor taps Entrapment on the reminder")
    demo.wait_recorded(alert_id, supervisor, reminder["message_id"])
    tap = demo.tap(reminder["message_id"], button_index(reminder, "Entrapment"), "Lerato Supervisor")
    tap_id = tap["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    say(f"  tap {tap_id} on {reminder['message_id'][:22]}… -> webhook {tap['status']} {tap['body']}")

    say("\n11. Events delivered to ticketing")
    events = [e for e in demo.wait_for_events(2) if e["detail"].get("alert_id") == alert_id]
    for event in events:
        show_event(event)
    kinds = {e["detail-type"]: e["detail"] for e in events}
    escalated = kinds.get("Alert Escalated")
    response = kinds.get("Alert Response Received")
    if escalated is None or response is None:
        raise StoryError(f"expected an Escalated and a Response event, got {sorted(kinds)}")
    check(escalated["round"] == 1 and escalated["reason"] == "no_response", f"escalation wrong: {escalated}")
    check(supervisor in escalated["recipients"], "the supervisor was not in round 1")
    check(response["original_message_id"] == reminder["message_id"], "the tap did not match the reminder")
    check(response["matched_by"] == "context" and response["first_response"] is True, f"tap: {response}")

    # Round 2 would be due at 2 x after_seconds: wait past it to show it never comes.
    time.sleep(max(0.0, created + 2 * after + STEP_GOAL_SECONDS - time.time()))
    round_two = [
        m
        for m in demo.sent_messages()
        if first_line(m).startswith("REMINDER 2/2") and "LIFT ALARM - ticket EMG-2024-003" in text_lines(m)
    ]
    check(not round_two, f"a second round went out after the tap: {round_two}")

    final = demo.get_alert(alert_id)
    escalation = final["escalation"]
    say(
        f"\n12. Final state: {final['ticket_id']} {final['lift_id']} state={final['state']}"
        f" outcome={final['outcome']}, rounds_sent={escalation['rounds_sent']}"
        f" next_due_at={escalation['next_due_at']}; no round 2 after {2 * after}s"
    )
    check(final["state"] == "answered", f"Lift C state is {final['state']}")
    check(escalation["rounds_sent"] == 1 and escalation["next_due_at"] is None, f"escalation: {escalation}")
    check(final["first_response"]["responder"]["wa_id"] == supervisor, "the supervisor's tap is not first")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
