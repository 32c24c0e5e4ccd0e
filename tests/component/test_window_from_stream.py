"""The 24-hour window of a tap or reply stored on an alert is recorded by the follow-up
function from the alert's stream record, not in the webhook's answer (SPEC §5, issue 14 item 6).

Observed as a user would: whether the next alert to that person goes interactive (window
open) or as the template (closed), with a template configured.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.support.service import Service

TECH = "27824537125"  # never wrote to the business before the test
HOUR = 3600


def next_alert_kind(service: Service, ticket_id: str) -> str:
    """The kind of message the next alert to TECH goes as (interactive when the window is open)."""
    alert = service.send_alert([TECH], ticket_id=ticket_id)
    message_id = alert["messages"][0]["message_id"]
    return str(service.woosh.message(message_id).kind)


def outcomes(answer: Any) -> dict[str, int]:
    assert answer.status == 200, answer.text
    return dict(answer.json()["outcomes"])


def test_a_tap_on_its_alert_opens_the_window_through_the_follow_up(template_mode: Service) -> None:
    service = template_mode
    first = service.send_alert([TECH])
    assert service.woosh.message(first["messages"][0]["message_id"]).kind == "template"
    assert outcomes(service.tap(first["messages"][0]["message_id"], 1)) == {"tap_matched_context": 1}
    service.follow_up()
    assert next_alert_kind(service, "EMG-2") == "interactive"


def test_a_reply_kept_on_its_alert_opens_the_window_through_the_follow_up(template_mode: Service) -> None:
    service = template_mode
    first = service.send_alert([TECH])
    reply = service.woosh.reply(TECH, "on my way", context_id=first["messages"][0]["message_id"], post=False)
    assert outcomes(service.webhook(reply["payload"])) == {"reply_matched_context": 1}
    service.follow_up()
    assert next_alert_kind(service, "EMG-2") == "interactive"


def test_a_tap_maps_its_user_id_to_the_phone_through_the_follow_up(template_mode: Service) -> None:
    service = template_mode
    first = service.send_alert([TECH])
    # Tapped 30 hours ago (delivered late): it opens no window itself, it only maps the user id.
    tap = service.woosh.tap(
        first["messages"][0]["message_id"], 0, timestamp=int(time.time()) - 30 * HOUR, post=False
    )["payload"]
    tap["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] = f"ZA.{TECH}"  # as the text below
    assert outcomes(service.webhook(tap)) == {"tap_matched_context": 1}
    service.follow_up()
    assert next_alert_kind(service, "EMG-2") == "template"
    # Now a text carrying only the user id: it counts for the phone the tap was seen with.
    text = service.woosh.reply(TECH, "on my way", user_id_only=True, post=False)["payload"]
    answer = service.webhook(text)
    assert outcomes(answer) == {"reply_matched_recent": 1}  # kept on EMG-2, sent to that phone
    service.follow_up()
    assert next_alert_kind(service, "EMG-3") == "interactive"


def test_a_tap_matching_no_alert_opens_the_window_in_the_webhook(template_mode: Service) -> None:
    service = template_mode
    first = service.send_alert([TECH])
    tap = service.woosh.tap(first["messages"][0]["message_id"], 1, with_context=False, post=False)["payload"]
    button = tap["entry"][0]["changes"][0]["value"]["messages"][0]["button"]  # a template quick reply
    prefix, _alert, choice = button["payload"].split(":")
    button["payload"] = f"{prefix}:{uuid.uuid4().hex}:{choice}"  # an alert that does not exist
    assert outcomes(service.webhook(tap)) == {"tap_unmatched_unknown_alert": 1}
    # No follow-up run: nothing was stored on an alert, the webhook recorded the window itself.
    assert next_alert_kind(service, "EMG-2") == "interactive"
