"""The desk's API over HTTP against the local stack (SPEC §13): no sign-in on 127.0.0.1."""

from __future__ import annotations

import requests

from local.process import StackProcess
from tests.support.e2e import post_alert, tap

TECHNICIAN = "082 453 7125"  # a national number, read in ZA (SPEC §4)


def test_list_story_and_status_over_http(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    alert = post_alert(api, "EMG-DESK-1", "LIFT-D", [TECHNICIAN])
    assert [m["to"] for m in alert["messages"]] == ["27824537125"]
    tap(woosh, alert["messages"][0]["message_id"], 1, "Desk E2E")

    listed = requests.get(f"{api}/desk/api/alerts", params={"limit": "5"}, timeout=10)
    assert listed.status_code == 200
    mine = next(a for a in listed.json()["alerts"] if a["alert_id"] == alert["alert_id"])
    assert (mine["state"], mine["outcome"], mine["deliveries"]["recipients"]) == (
        "answered",
        "maintenance",
        1,
    )
    assert requests.get(f"{api}/alerts", params={"limit": "0"}, timeout=10).status_code == 400

    story = requests.get(f"{api}/desk/api/alerts/{alert['alert_id']}", timeout=10).json()["timeline"]
    assert [e["kind"] for e in story][:2] == ["message", "tap"]

    status = requests.get(f"{api}/desk/api/status", timeout=10)
    assert status.status_code == 200
    body = status.json()
    assert body["problems"] == [], body["problems"]
    assert set(body["dead_letters"]) == {
        "TicketingDLQ",
        "PublisherDLQ",
        "ParkedDLQ",
        "FollowUpDLQ",
        "TimerDLQ",
    }
    assert body["alarms"] == []  # the template's alarms, created in moto, none in ALARM
    assert body["send_budget"]["limit"] == 100
