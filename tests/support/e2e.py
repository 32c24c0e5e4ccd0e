"""Helpers for end-to-end tests: a client of the local stack over HTTP, nothing in-process."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import requests


def events_queue(info: dict[str, Any]) -> tuple[Any, str]:
    sqs = boto3.client(
        "sqs",
        endpoint_url=info["aws_endpoint"],
        region_name=info["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return sqs, info["events_queue_url"]


def wait_for_event(
    info: dict[str, Any], predicate: Any, timeout: float = 15.0, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The first event on the local events queue that matches; `seen` keeps what was read."""
    seen = [] if seen is None else seen
    sqs, url = events_queue(info)
    deadline = time.monotonic() + timeout
    while True:
        # Every received message is kept: one not read here stays invisible for 30 s.
        match = next((event for event in seen if predicate(event)), None)
        if match is not None:
            return match
        if time.monotonic() >= deadline:
            break
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        seen.extend(json.loads(message["Body"]) for message in answer.get("Messages", []))
    raise AssertionError(f"no matching event within {timeout}s; saw {seen}")


def post_alert(
    api: str, ticket: str, lift: str, recipients: list[str], escalation: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticket_id": ticket,
        "lift_id": lift,
        "site": "Sandton Office Park",
        "floor": "3",
        "recipients": recipients,
    }
    if escalation is not None:
        body["escalation"] = escalation
    response = requests.post(f"{api}/alerts", json=body, timeout=30)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def standin_control(woosh: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to one of the stand-in's control endpoints (`_tap`, `_reply`, `_status`, `_wrote`...)."""
    response = requests.post(f"{woosh}/{path.lstrip('/')}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def tap(woosh: str, message_id: str, choice_index: int, name: str) -> str:
    """The stand-in taps a button of a sent message (a signed webhook); returns the tap's id."""
    tap = standin_control(
        woosh, "_tap", {"message_id": message_id, "choice_index": choice_index, "name": name}
    )
    assert tap["status"] == 200, tap
    return str(tap["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


def recorded(api: str, alert_id: str, to: str, message_id: str, timeout: float = 10.0) -> None:
    """Wait until GET /alerts shows `message_id` as `to`'s message: Woosh accepts a message a moment
    before the send step records it, and a person cannot tap in between (a test can)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = requests.get(f"{api}/alerts/{alert_id}", timeout=10).json()
        if any(
            line["to"] == to.lstrip("+") and line["message_id"] == message_id for line in view["recipients"]
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"{message_id} to {to} not recorded on {alert_id} within {timeout}s: {view}")


def sent_where(woosh: str, wanted: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in requests.get(f"{woosh}/_sent", timeout=10).json():
            if wanted(message):
                return dict(message)
        time.sleep(0.1)
    raise AssertionError(f"Woosh received no such message within {timeout}s")


def shown(message: dict[str, Any]) -> str:
    """What the phone shows (interactive text, or the template's variables as filled in)."""
    return str(message.get("shown") or "")
