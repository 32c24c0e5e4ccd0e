"""The local stack against a stand-in that behaves like the real Woosh Bridge (SPEC §5, §6, §8).

The stand-in forwards every webhook with `Authorization: Bearer <callback token>` and no Meta
signature, dispatches statuses in Meta's payload and again in its wrapper, fails interactive
messages to people outside WhatsApp's 24-hour window with 131047, and checks templates
against the approved shape. Everything here goes over HTTP, as a client would.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from local.process import StackProcess
from tests.support.e2e import post_alert, sent_where, shown, standin_control, tap, wait_for_event

NEVER_WROTE = "27824537125"
WROTE_THIS_MORNING = "27831234567"


def _sent_to(woosh: str, to: str) -> list[dict[str, Any]]:
    return [m for m in requests.get(f"{woosh}/_sent", timeout=10).json() if m["to"] == to and m["message_id"]]


def test_template_first_and_the_131047_fallback_over_http(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    # The colleague wrote to the business this morning: the Bridge forwards it to our webhook.
    morning = int(time.time()) - 4 * 3600
    wrote = standin_control(
        woosh, "_reply", {"from": WROTE_THIS_MORNING, "text": "Morning, on shift today", "timestamp": morning}
    )
    assert wrote["status"] == 200, wrote  # accepted on the Bearer token alone

    alert = post_alert(api, "EMG-E2E-TF-1", "LIFT-T", [NEVER_WROTE, WROTE_THIS_MORNING])
    [cold] = _sent_to(woosh, NEVER_WROTE)
    [warm] = _sent_to(woosh, WROTE_THIS_MORNING)
    assert cold["body"]["type"] == "template"
    assert "LIFT ALARM" in shown(cold)
    assert "EMG-E2E-TF-1" in shown(cold)
    assert warm["body"]["type"] == "interactive"

    # Meta refuses the interactive message after all (131047), in Meta's payload and again in
    # the Bridge's wrapper: the template goes out at once, and only once.
    failed = standin_control(
        woosh,
        "_status",
        {"message_id": warm["message_id"], "status": "failed", "error_code": 131047, "form": "both"},
    )
    assert failed["status"] == 200, failed
    fallback = sent_where(
        woosh, lambda m: m["to"] == WROTE_THIS_MORNING and m["body"].get("type") == "template", timeout=15
    )
    assert shown(fallback) == shown(cold)  # the same content as the alert
    time.sleep(1.0)
    assert len(_sent_to(woosh, WROTE_THIS_MORNING)) == 2

    view = requests.get(f"{api}/alerts/{alert['alert_id']}", timeout=10).json()
    lines = {line["to"]: line for line in view["recipients"]}
    assert (lines[NEVER_WROTE]["channel"], lines[NEVER_WROTE]["fallback"]) == ("template", False)
    assert lines[WROTE_THIS_MORNING]["message_id"] == fallback["message_id"]
    assert (lines[WROTE_THIS_MORNING]["channel"], lines[WROTE_THIS_MORNING]["fallback"]) == ("template", True)

    # The colleague taps Entrapment on the template: recorded by context.id.
    tap_id = tap(woosh, fallback["message_id"], 2, "Colleague")
    seen: list[dict[str, Any]] = []
    event = wait_for_event(stack.info, lambda e: e["detail"].get("event_id") == tap_id, seen=seen)
    response = event["detail"]
    assert (response["alert_id"], response["choice"], response["matched_by"]) == (
        alert["alert_id"],
        "entrapment",
        "context",
    )
    assert response["original_message_id"] == fallback["message_id"]
    # The replaced message's failure was never published as a delivery failure.
    assert not [
        e
        for e in seen
        if e["detail-type"] == "Alert Delivery Failed" and e["detail"].get("alert_id") == alert["alert_id"]
    ]


def test_every_forward_carries_the_bearer_token_and_no_meta_signature(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    alert = post_alert(api, "EMG-E2E-TF-2", "LIFT-U", [NEVER_WROTE])
    tap(woosh, alert["messages"][0]["message_id"], 0, "Tech")
    dispatched = requests.get(f"{woosh}/_dispatched", timeout=10).json()
    assert dispatched
    for forward in dispatched:
        headers = {k.lower(): v for k, v in forward["headers"].items()}
        assert headers["authorization"].startswith("Bearer ")
        assert "x-hub-signature-256" not in headers
        assert forward["status_code"] == 200, forward
    assert requests.get(f"{api}/alerts/{alert['alert_id']}", timeout=10).json()["state"] == "answered"
