"""Scene 1, the multi-emergency (steps 1-6): one technician is alerted for Lift A and Lift B at the
same time (same three buttons on both messages). She taps Entrapment on the Lift B message; a
colleague who was also alerted for Lift B taps Test late. Both taps reach Lift B's ticket only.
"""

from __future__ import annotations

import time

from local.demo.client import Demo, button_index, message_for
from local.demo.messages import digits
from local.demo.narration import StoryError, check, say, show_event, show_message
from local.demo.settings import COLLEAGUE, TECHNICIAN


def multi_emergency_scene(demo: Demo) -> None:
    say("1. The ticketing system raises two lift alarms at the same site")
    alert_a = demo.send_alert("EMG-2024-001", "LIFT-A", "3", [TECHNICIAN])
    alert_b = demo.send_alert("EMG-2024-002", "LIFT-B", "7", [TECHNICIAN, COLLEAGUE])
    for alert in (alert_a, alert_b):
        for message in alert["messages"]:
            check(message["status"] == "accepted", f"{alert['ticket_id']}: {message}")

    say("\n2. Woosh Bridge delivered these WhatsApp messages")
    sent = demo.sent_messages()
    for message in sent:
        show_message(message)
    check(len(sent) == 3, f"expected 3 messages, Woosh received {len(sent)}")

    tech_b = next(m for m in alert_b["messages"] if m["to"] == digits(TECHNICIAN))
    colleague_b = next(m for m in alert_b["messages"] if m["to"] == digits(COLLEAGUE))
    tech_b_sent = message_for(sent, tech_b["message_id"])
    colleague_b_sent = message_for(sent, colleague_b["message_id"])

    say("\n3. The technician has two identical sets of buttons and taps Entrapment on the Lift B message")
    tap = demo.tap(tech_b["message_id"], button_index(tech_b_sent, "Entrapment"), "Thandi Technician")
    tap_id = tap["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    say(f"  tap {tap_id} on {tech_b['message_id'][:22]}… -> webhook {tap['status']} {tap['body']}")

    time.sleep(1.0)  # a late answer from the colleague
    say("\n4. A colleague alerted for Lift B taps Test a little later")
    late = demo.tap(colleague_b["message_id"], button_index(colleague_b_sent, "Test"), "Sipho Colleague")
    late_id = late["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    say(f"  tap {late_id} on {colleague_b['message_id'][:22]}… -> webhook {late['status']} {late['body']}")

    say("\n5. Events delivered to ticketing (local events queue)")
    events = demo.wait_for_events(2)
    for event in events:
        show_event(event)
    responses = [e for e in events if e["detail-type"] == "Alert Response Received"]
    check(len(responses) == 2, f"expected 2 response events, got {len(events)} events")
    check(
        all(e["detail"]["ticket_id"] == "EMG-2024-002" for e in responses), "a tap reached the wrong ticket"
    )
    first = next((e["detail"] for e in responses if e["detail"]["event_id"] == tap_id), None)
    second = next((e["detail"] for e in responses if e["detail"]["event_id"] == late_id), None)
    if first is None or second is None:
        raise StoryError("an event is missing for one of the taps")
    check(first["choice"] == "entrapment" and first["first_response"] is True, f"first event wrong: {first}")
    check(second["choice"] == "test" and second["first_response"] is False, f"late event wrong: {second}")
    check(second.get("outcome", "entrapment") == "entrapment", "the late Test lowered the outcome")

    say("\n6. Final state (GET /alerts/{id})")
    final_a = demo.get_alert(alert_a["alert_id"])
    final_b = demo.get_alert(alert_b["alert_id"])
    for final in (final_a, final_b):
        first_response = final.get("first_response")
        answered = (
            f"first response {first_response['choice']} by {first_response['responder'].get('name')}"
            f" (matched by {first_response['matched_by']}), {len(final['responses'])} response(s)"
            if first_response
            else "no response yet"
        )
        say(
            f"  {final['ticket_id']} {final['lift_id']}: state={final['state']}"
            f" outcome={final.get('outcome')}, {answered}"
        )
    check(
        final_a["state"] == "awaiting_response" and final_a["responses"] == [],
        "Lift A got a tap it never had",
    )
    check(final_b["state"] == "answered", f"Lift B state is {final_b['state']}")
    check(final_b["first_response"]["choice"] == "entrapment", "Lift B's first response is not Entrapment")
    check(final_b["first_response"]["matched_by"] == "context", "the tap was not matched by context.id")
    check(
        [r["choice"] for r in final_b["responses"]] == ["entrapment", "test"],
        "responses are not both recorded",
    )
