"""Scene 4, template-first (steps 13-15): WhatsApp's 24-hour rule. A colleague who wrote this
morning gets the interactive message, a new technician who never wrote gets the approved
template; when Meta refuses the interactive message after all (131047), the template replaces
it and the colleague's tap on it counts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from local.demo.client import Demo, button_index, event_for, message_for
from local.demo.messages import digits
from local.demo.narration import check, say, show_event, show_message
from local.demo.settings import NEW_TECHNICIAN, WARM_COLLEAGUE


def template_first_scene(demo: Demo) -> None:
    say("\n13. WhatsApp's 24-hour rule: a colleague wrote to the business this morning,")
    say("    a new technician never did")
    morning = int(time.time()) - 4 * 3600
    wrote = demo.control(
        "_reply", {"from": WARM_COLLEAGUE, "text": "Morning, on shift today", "timestamp": morning}
    )
    check(wrote["status"] == 200, f"the webhook refused the forwarded message: {wrote}")
    say(f"  {digits(WARM_COLLEAGUE)} wrote at {_clock(morning)} UTC; the Bridge forwarded it (Bearer) -> 200")
    alert = demo.send_alert("EMG-2024-004", "LIFT-D", "2", [NEW_TECHNICIAN, WARM_COLLEAGUE])
    by_phone = {m["to"]: m for m in alert["messages"]}
    sent = demo.sent_messages()
    cold = message_for(sent, by_phone[digits(NEW_TECHNICIAN)]["message_id"])
    warm = message_for(sent, by_phone[digits(WARM_COLLEAGUE)]["message_id"])
    for message in (cold, warm):
        show_message(message)
    check(cold["body"]["type"] == "template", "the technician who never wrote did not get the template")
    check(warm["body"]["type"] == "interactive", "the colleague inside the window did not get buttons")

    say("\n14. Meta refuses the interactive message after all: 131047, in Meta's payload and the wrapper")
    refused_at = time.time()
    failed = demo.control(
        "_status",
        {"message_id": warm["message_id"], "status": "failed", "error_code": 131047, "form": "both"},
    )
    check(failed["status"] == 200, f"the webhook refused the status: {failed}")
    fallback = demo.wait_for_sent(
        lambda m: m["to"] == digits(WARM_COLLEAGUE) and m["body"].get("type") == "template", timeout=15
    )
    show_message(fallback, f"  {fallback['received_at'] - refused_at:.1f}s after the failure")

    say("\n15. The colleague taps Maintenance on the template")
    demo.wait_recorded(alert["alert_id"], digits(WARM_COLLEAGUE), fallback["message_id"])
    tap = demo.tap(fallback["message_id"], button_index(fallback, "Maintenance"), "Sipho Colleague")
    tap_id = tap["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    seen: list[dict[str, Any]] = []
    response = event_for(demo, "Alert Response Received", alert["alert_id"], seen)
    events = [e for e in seen if e["detail"].get("alert_id") == alert["alert_id"]]
    for event in events:
        show_event(event)
    check(response["event_id"] == tap_id, "no event for the tap on the template fallback")
    check(
        not [e for e in events if e["detail-type"] == "Alert Delivery Failed"],
        "the replaced message's failure was published",
    )
    final = demo.get_alert(alert["alert_id"])
    fallbacks = [line for line in final["recipients"] if line["fallback"]]
    for line in final["recipients"]:
        say(
            f"  GET: {line['to']} channel={line['channel']} fallback={line['fallback']}"
            f" delivery_status={line['delivery_status']}"
        )
    say(f"  template fallbacks made: {len(fallbacks)}; state={final['state']} outcome={final['outcome']}")
    check(len(fallbacks) == 1 and fallbacks[0]["message_id"] == fallback["message_id"], f"GET: {fallbacks}")
    check(final["outcome"] == "maintenance", f"outcome {final['outcome']}")


def _clock(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%H:%M")
