"""People in the loop over the local stack (SPEC §10): a reply that is not a tap, and the critical
message when nobody answers, driven only over HTTP as a client and a phone would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.process import StackProcess
from tests.support.e2e import post_alert, sent_where, shown, standin_control, wait_for_event

TECHNICIAN = "27824537125"
SUPERVISOR = "27820000001"


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    with StackProcess(env={"LOCAL_TIMER_SECONDS": "0.5"}) as process:
        yield process


def test_a_text_reply_quoting_the_alert_is_kept_published_and_acknowledged(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    alert = post_alert(api, "EMG-E2E-R-1", "LIFT-R", [TECHNICIAN])
    message_id = alert["messages"][0]["message_id"]
    body = {"from": TECHNICIAN, "text": "On my way, 10 minutes out", "context_id": message_id}
    reply = standin_control(woosh, "_reply", body)
    assert reply["status"] == 200, reply
    reply_id = reply["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"]

    event = wait_for_event(stack.info, lambda e: e["detail"].get("event_id") == reply_id)
    assert event["detail-type"] == "Alert Message Received"
    detail = event["detail"]
    assert (detail["alert_id"], detail["type"], detail["text"], detail["matched_by"]) == (
        alert["alert_id"],
        "text",
        "On my way, 10 minutes out",
        "context",
    )
    ack = sent_where(
        woosh, lambda m: m["to"] == TECHNICIAN and "passed on to the rescue desk" in shown(m), 15
    )
    assert "EMG-E2E-R-1" in shown(ack)
    view = requests.get(f"{api}/alerts/{alert['alert_id']}", timeout=10).json()
    assert [m["event_id"] for m in view["messages_received"]] == [reply_id]
    assert (view["state"], view["outcome"]) == ("awaiting_response", None)  # a reply is never a tap


def test_nobody_answers_and_everyone_messaged_gets_the_critical_message(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    escalation = {"after_seconds": 1, "max_rounds": 1, "recipients": [SUPERVISOR]}
    alert = post_alert(api, "EMG-E2E-CRIT-1", "LIFT-K", [TECHNICIAN], escalation=escalation)
    seen: list[dict[str, Any]] = []
    wait_for_event(
        stack.info,
        lambda e: e["detail-type"] == "Alert Unanswered" and e["detail"]["alert_id"] == alert["alert_id"],
        timeout=20,
        seen=seen,
    )
    for phone in (TECHNICIAN, SUPERVISOR):  # the supervisor was messaged by the reminder round
        critical = sent_where(
            woosh,
            lambda m, to=phone: m["to"] == to and "CRITICAL: no response to EMG-E2E-CRIT-1" in shown(m),
            15,
        )
        assert "Immediate action required" in shown(critical)
    time.sleep(1.0)
    criticals = [
        m
        for m in requests.get(f"{woosh}/_sent", timeout=10).json()
        if "CRITICAL: no response to EMG-E2E-CRIT-1" in (shown(m) or "")
    ]
    assert sorted(m["to"] for m in criticals) == sorted([TECHNICIAN, SUPERVISOR])  # once each
