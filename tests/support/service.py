"""The deployed service as a test client sees it: AWS in moto (in-process), Woosh on loopback.

Built on local/'s emulator through `tests.support.harness`; the `service` fixture (tests/conftest.py)
makes one per test inside `mock_aws`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from typing import Any

import boto3

import tests.support.environment  # noqa: F401 - before any handler or Powertools import
from local.woosh_standin import WooshStandIn, signature_header, webhook_envelope
from tests.support.harness import (
    LOCAL_SECRET,
    REGION,
    HttpResult,
    StreamPump,
    create_alerts_table,
    handler_module,
    http_event,
    lambda_context,
    timer_context,
    to_result,
)


class Service:
    """The deployed service as a client sees it, with AWS in moto and Woosh on loopback."""

    def __init__(self, woosh: WooshStandIn) -> None:
        self.woosh = woosh
        self.table = os.environ["ALERTS_TABLE"]
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events_client = boto3.client("events", region_name=REGION)
        create_alerts_table(self.ddb, self.table)
        self.events_client.create_event_bus(Name=os.environ["EVENT_BUS_NAME"])
        # Tests read what reached the bus through an SQS target, like a downstream consumer.
        self.captured_url = self.sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.captured_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events_client.put_rule(
            Name="capture-all",
            EventBusName=os.environ["EVENT_BUS_NAME"],
            EventPattern=json.dumps({"source": ["lift-alerts"]}),
        )
        self.events_client.put_targets(
            Rule="capture-all", EventBusName=os.environ["EVENT_BUS_NAME"], Targets=[{"Id": "q", "Arn": arn}]
        )
        self.parked_url = self.sqs.create_queue(QueueName="parked")["QueueUrl"]
        os.environ["PARKED_QUEUE_URL"] = self.parked_url
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name=os.environ["APP_SECRET_ID"], SecretString=json.dumps(LOCAL_SECRET))
        secrets.create_secret(Name=os.environ["CURSOR_SECRET_ID"], SecretString="test-cursor-key")
        self.pump = StreamPump(self.table, REGION)
        self.followup_pump = StreamPump(self.table, REGION)
        self._events: list[dict[str, Any]] = []

    # -- the send API ---------------------------------------------------------------------------

    def call(self, function: str, event: dict[str, Any]) -> HttpResult:
        return to_result(handler_module(function).lambda_handler(event, lambda_context(function)))

    def post_alert(self, body: Any, headers: dict[str, str] | None = None) -> HttpResult:
        return self.call("send", http_event("POST", "/alerts", body=body, headers=headers))

    def get_alert(self, alert_id: str) -> HttpResult:
        return self.call("send", http_event("GET", f"/alerts/{alert_id}"))

    def close_alert(self, alert_id: str, body: Any = None) -> HttpResult:
        return self.call("send", http_event("POST", f"/alerts/{alert_id}/close", body=body))

    # -- the desk (SPEC 13) ----------------------------------------------------------------------

    def list_alerts(self, path: str = "/alerts", **query: str) -> HttpResult:
        return self.call("desk", http_event("GET", path, query=query))

    def desk(self, method: str, path: str, **query: str) -> HttpResult:
        return self.call("desk", http_event(method, path, query=query))

    # -- the webhook -----------------------------------------------------------------------------

    def webhook(
        self,
        payload: Any,
        *,
        secret: str | None = None,
        sign: bool = True,
        headers: dict[str, str] | None = None,
        base64_body: bool = False,
    ) -> HttpResult:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json"}
        if sign:
            all_headers["X-Hub-Signature-256"] = signature_header(
                raw, secret or LOCAL_SECRET["webhook_secret"]
            )
        all_headers.update(headers or {})
        return self.call(
            "webhook", http_event("POST", "/webhook", body=raw, headers=all_headers, base64_body=base64_body)
        )

    def webhooks_at_once(self, payloads: list[Any]) -> list[int]:
        """Deliver every payload from its own thread, released together; the statuses answered."""
        barrier = threading.Barrier(len(payloads))
        statuses: list[int] = []

        def deliver(payload: Any) -> None:
            barrier.wait()
            statuses.append(self.webhook(payload).status)

        threads = [threading.Thread(target=deliver, args=(payload,)) for payload in payloads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return statuses

    def tap(self, message_id: str, choice_index: int, **kwargs: Any) -> HttpResult:
        payload = self.woosh.tap(message_id, choice_index, post=False, **kwargs)["payload"]
        return self.webhook(payload)

    def status(self, message_id: str, status: str, **kwargs: Any) -> HttpResult:
        return self.webhook(self.woosh.status(message_id, status, post=False, **kwargs)["payload"])

    # -- what happened ---------------------------------------------------------------------------

    def follow_up(self) -> int:
        """Run the follow-up function over everything new on the table's stream, as Lambda would."""
        return self.followup_pump.drain(handler_module("followup").lambda_handler)

    def publish(self) -> int:
        """Run both stream consumers until the stream is quiet (follow-ups write what is published)."""
        delivered = 0
        for _round in range(5):
            followed = self.follow_up()
            published = self.pump.drain(handler_module("publisher").lambda_handler)
            delivered += published
            if not followed:
                break
        return delivered

    def wrote(self, phone: str, *, seconds_ago: int = 0, text: str = "hello") -> HttpResult:
        """`phone` sends the business a text message (opens their 24-hour window)."""
        message = {
            "from": phone,
            "id": f"wamid.TEXT{phone}{seconds_ago}{time.monotonic_ns()}",
            "timestamp": str(int(time.time()) - seconds_ago),
            "type": "text",
            "text": {"body": text},
        }
        contact = {"profile": {"name": "Someone"}, "wa_id": phone}
        return self.webhook(webhook_envelope({"contacts": [contact], "messages": [message]}))

    def events(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """Every event that reached the bus so far (after publishing pending stream records)."""
        self.publish()
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.captured_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                self._events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.captured_url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self._events if detail_type is None or e["detail-type"] == detail_type]

    def details(self, detail_type: str) -> list[dict[str, Any]]:
        return [e["detail"] for e in self.events(detail_type)]

    def run_timer(self, now: datetime | None = None) -> dict[str, Any]:
        module = handler_module("escalation")
        if now is None:
            return dict(module.lambda_handler({"source": "aws.events"}, timer_context()))
        from lift_alerts.flows.confirm import run_confirmations
        from lift_alerts.flows.escalate import run_escalations
        from lift_alerts.flows.sending import woosh_client
        from lift_alerts.flows.timer import TimerReport
        from lift_alerts.platform.config import get_settings
        from lift_alerts.store.repositories import Repositories

        repos = Repositories.of(self.table)
        report: TimerReport = run_escalations(repos, woosh_client, get_settings(), now)
        run_confirmations(repos, woosh_client, get_settings(), now, report=report)
        result: dict[str, Any] = {
            "rounds_sent": report.rounds_sent,
            "unanswered": report.unanswered,
            "skipped": report.skipped,
        }
        # Listed only when the run had confirmation work (escalation tests compare whole dicts).
        if report.confirmation_rounds or report.confirmations_missed:
            result["confirmation_rounds"] = report.confirmation_rounds
            result["confirmations_missed"] = report.confirmations_missed
        return result

    def stored_alert(self, alert_id: str) -> dict[str, Any]:
        from lift_alerts.store.alerts import AlertRepository

        alert = AlertRepository(self.table).get_alert(alert_id)
        assert alert is not None
        return alert

    def send_alert(self, recipients: list[str], **fields: Any) -> dict[str, Any]:
        body = {
            "ticket_id": "EMG-1",
            "lift_id": "LIFT-A",
            "site": "Sandton Office Park",
            "floor": "3",
            **fields,
        }
        body["recipients"] = recipients
        result = self.post_alert(body)
        assert result.status == 201, result.text
        return dict(result.json())
