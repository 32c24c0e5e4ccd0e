"""The demo's client of the local stack: its HTTP API, the stand-in Woosh's controls, the events queue.

`Demo` raises alerts, taps and replies through the stand-in, and waits for what the service
does in the background (queued sends, reminders, events delivered to ticketing).
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import requests

from local.demo.messages import digits, inbound_messages, inbound_summary, text_lines
from local.demo.narration import StoryError, check, clock_seconds, say
from local.demo.settings import EVENT_WAIT_SECONDS


class Demo:
    """The story's view of a running local stack, from the `info` it reported when ready."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.api = info["api_url"]
        self.woosh = info["woosh_url"]
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=info["aws_endpoint"],
            region_name=info["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
        )
        self.events_queue = info["events_queue_url"]
        self.http = requests.Session()

    def send_alert(
        self,
        ticket: str,
        lift: str,
        floor: str,
        recipients: list[str],
        escalation: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticket_id": ticket,
            "lift_id": lift,
            "site": "Sandton Office Park",
            "floor": floor,
            "recipients": recipients,
            "note": "Alarm button pressed in car",
        }
        if escalation is not None:
            body["escalation"] = escalation
        response = self.http.post(f"{self.api}/alerts", json=body, timeout=30)
        check(
            response.status_code == 201,
            f"POST /alerts for {ticket} answered {response.status_code}: {response.text}",
        )
        answer: dict[str, Any] = response.json()
        say(f"  POST /alerts {ticket} ({lift}, floor {floor}) -> 201, alert {answer['alert_id']}")
        for line in answer["messages"]:
            if line["status"] == "queued":
                line.update(self.wait_until_sent(answer["alert_id"], line["to"]))
        return answer

    def wait_until_sent(self, alert_id: str, to: str, timeout: float = 20.0) -> dict[str, Any]:
        """A recipient the POST answered `queued` (its send slot went to someone else's first
        alert, SPEC §11): the dispatcher sends it within seconds; GET shows it then, as a
        ticketing system would see it. Returns the line's `message_id` and `status`."""
        waited = time.monotonic()
        while time.monotonic() - waited < timeout:
            for line in self.get_alert(alert_id)["recipients"]:
                if line["to"] == to and line.get("message_id"):
                    after = time.monotonic() - waited
                    say(f"    {to}: queued, then sent by the dispatcher {after:.1f}s later")
                    return {"message_id": line["message_id"], "status": "accepted"}
            time.sleep(0.25)
        raise StoryError(f"{alert_id}: the queued message to {to} was not sent within {timeout:g}s")

    def sent_messages(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.http.get(f"{self.woosh}/_sent", timeout=10).json()
        return answer

    def tap(self, message_id: str, choice_index: int, name: str) -> dict[str, Any]:
        response = self.http.post(
            f"{self.woosh}/_tap",
            json={"message_id": message_id, "choice_index": choice_index, "name": name},
            timeout=30,
        )
        check(
            response.status_code == 200, f"the stand-in could not tap: {response.status_code} {response.text}"
        )
        result: dict[str, Any] = response.json()
        check(result["status"] == 200, f"POST /webhook answered {result['status']}: {result['body']}")
        return result

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A stand-in control call (a simulated message or status, forwarded to the webhook)."""
        response = self.http.post(f"{self.woosh}/{path}", json=body, timeout=30)
        check(
            response.status_code == 200,
            f"the stand-in refused {path}: {response.status_code} {response.text}",
        )
        result: dict[str, Any] = response.json()
        return result

    def stats(self) -> dict[str, int]:
        answer: dict[str, int] = self.http.get(f"{self.woosh}/_stats", timeout=10).json()
        return answer

    def dispatched(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.http.get(f"{self.woosh}/_dispatched", timeout=10).json()
        return answer

    def conversation(self, phone: str, since: float, ticket: str | None = None) -> list[tuple[float, str]]:
        """What one phone showed since `since` (about `ticket` only, when given): messages it
        received and taps or texts it sent."""
        to = digits(phone)
        lines: list[tuple[float, str]] = []
        ours: set[str] = set()
        for message in self.sent_messages():
            if ticket is not None and f"ticket {ticket}".lower() not in " ".join(text_lines(message)).lower():
                continue
            ours.add(str(message["message_id"]))
            if message["to"] == to and message["message_id"] and message["received_at"] >= since:
                buttons = " | ".join(title for _id, title in message["buttons"])
                kind = message["body"].get("type", "text")
                text = " / ".join(text_lines(message)) or "(no text)"
                lines.append(
                    (message["received_at"], f"<- {kind}: {text}" + (f"  [{buttons}]" if buttons else ""))
                )
        for forward in self.dispatched():
            for item in inbound_messages(forward.get("payload")):
                quoted = (item.get("context") or {}).get("id")
                if item.get("from") == to and forward["at"] >= since and (ticket is None or quoted in ours):
                    lines.append((forward["at"], f"-> {inbound_summary(item)}"))
        return sorted(lines)

    def show_conversation(
        self, phone: str, name: str, since: float, ticket: str | None = None
    ) -> list[tuple[float, str]]:
        lines = self.conversation(phone, since, ticket)
        say(f"  {name} ({digits(phone)}):")
        for at, line in lines:
            say(f"    {clock_seconds(at)}  {line}")
        return lines

    def get_alert(self, alert_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.api}/alerts/{alert_id}", timeout=10)
        check(response.status_code == 200, f"GET /alerts/{alert_id} answered {response.status_code}")
        answer: dict[str, Any] = response.json()
        return answer

    def wait_recorded(self, alert_id: str, to: str, message_id: str, timeout: float = 10.0) -> None:
        """Wait until the alert lists `message_id` as `to`'s message. Woosh accepts a message a
        moment before the send step records it; a person cannot tap in between, a script can."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.get_alert(alert_id)["recipients"]
            if any(line["to"] == to and line["message_id"] == message_id for line in lines):
                return
            time.sleep(0.05)
        raise StoryError(f"{message_id} to {to} was not recorded on {alert_id} within {timeout}s")

    def wait_for_sent(self, wanted: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.sent_messages():
                if wanted(message):
                    return message
            time.sleep(0.1)
        raise StoryError(f"Woosh received no such message within {timeout:g}s")

    def wait_for_events(self, count: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + EVENT_WAIT_SECONDS
        while len(events) < count and time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=self.events_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in answer.get("Messages", []):
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=message["ReceiptHandle"])
        return events


def event_for(
    demo: Demo, detail_type: str, alert_id: str, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Read the events queue until `detail_type` for `alert_id` arrives; `seen` keeps the rest."""
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    seen = [] if seen is None else seen
    while time.monotonic() < deadline:
        for event in demo.wait_for_events(1):
            seen.append(event)
            if event["detail-type"] == detail_type and event["detail"].get("alert_id") == alert_id:
                return dict(event["detail"])
    kinds = [event["detail-type"] for event in seen]
    raise StoryError(f"no {detail_type} event within {EVENT_WAIT_SECONDS:g}s; saw {kinds}")


def message_for(sent: list[dict[str, Any]], message_id: str) -> dict[str, Any]:
    for message in sent:
        if message["message_id"] == message_id:
            return message
    raise StoryError(f"Woosh never received message {message_id}")


def button_index(message: dict[str, Any], title: str) -> int:
    titles = [button[1] for button in message["buttons"]]
    check(title in titles, f"no {title!r} button on {message['message_id']}: {titles}")
    return titles.index(title)
