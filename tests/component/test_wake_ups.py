"""A wake-up per timed step (SPEC §12), against SQS in moto: scheduled whenever a due time is set,
consumed by the escalation function, and never the reason a request fails.

The escalation function is invoked with the wake-up messages as Lambda's SQS event source would
deliver them (received from the queue itself)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lift_alerts.domain.step_timing import StepSeries
from lift_alerts.flows import wake_up_runs
from lift_alerts.platform.config import reset_caches
from tests.support.harness import handler_module, timer_context
from tests.support.logs import log_lines
from tests.support.service import Service

TECH = "+27824537125"
DESK = "+27831234567"
PHONES = ["+27824537125", "+27831234567", "+27721234567"]


@pytest.fixture
def timer_queue(service: Service, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = service.sqs.create_queue(QueueName="timer")["QueueUrl"]
    monkeypatch.setenv("TIMER_QUEUE_URL", url)
    reset_caches()
    yield url
    monkeypatch.delenv("TIMER_QUEUE_URL")
    reset_caches()


def wake_ups(sqs: Any, url: str, *, wait: float = 0.0) -> list[dict[str, Any]]:
    """The wake-ups visible now (after `wait` seconds at most), as Lambda's SQS records."""
    deadline = time.monotonic() + wait
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "eventSource": "aws:sqs",
        }
        for m in messages
    ]


def delayed(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def wake(records: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(handler_module("escalation").lambda_handler({"Records": records}, timer_context()))


def reminders(service: Service) -> list[str]:
    return [m.to for m in service.woosh.sent if (m.text or "").startswith("REMINDER")]


def created_at(service: Service, alert_id: str) -> float:
    created = service.get_alert(alert_id).json()["created_at"]
    return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()


def test_a_new_alert_schedules_its_first_step_delayed_until_due(service: Service, timer_queue: str) -> None:
    alert = service.send_alert([TECH], escalation={"after_seconds": 60, "max_rounds": 1})
    assert wake_ups(service.sqs, timer_queue) == []  # not visible before it is due
    assert delayed(service.sqs, timer_queue) == 1
    assert service.get_alert(alert["alert_id"]).json()["escalation"]["next_due_at"] is not None


def test_a_wake_up_delivered_three_times_sends_the_round_once(service: Service, timer_queue: str) -> None:
    alert = service.send_alert([TECH, DESK], escalation={"after_seconds": 1, "max_rounds": 2})
    [record] = wake_ups(service.sqs, timer_queue, wait=3)
    body = json.loads(record["body"])
    assert body["alert_id"] == alert["alert_id"]
    assert body["series"] == "escalation"
    assert body["due_at"] == created_at(service, alert["alert_id"]) + 1
    # SQS delivers at least once: the same message three times, in one batch and in two more.
    first = wake([record, record])
    again = wake([record])
    assert sorted(reminders(service)) == sorted([TECH.lstrip("+"), DESK.lstrip("+")])
    assert first["rounds_sent"] == [f"{alert['alert_id']}:1"]
    assert again["rounds_sent"] == []
    assert first["batchItemFailures"] == again["batchItemFailures"] == []
    assert len(service.details("Alert Escalated")) == 1
    # The round scheduled the next step's wake-up (round 2, due 2 s after creation).
    [following] = wake_ups(service.sqs, timer_queue, wait=3)
    assert json.loads(following["body"])["due_at"] == created_at(service, alert["alert_id"]) + 2


@pytest.mark.parametrize("moot", ["tap", "close"])
def test_a_wake_up_for_a_step_made_moot_sends_nothing(service: Service, timer_queue: str, moot: str) -> None:
    alert = service.send_alert([TECH, DESK], escalation={"after_seconds": 1, "max_rounds": 2})
    if moot == "tap":
        assert service.tap(alert["messages"][0]["message_id"], 1).status == 200
    else:
        assert service.close_alert(alert["alert_id"]).status == 200
    [record] = wake_ups(service.sqs, timer_queue, wait=3)
    woken = wake([record])
    assert woken["rounds_sent"] == []
    assert woken["unanswered"] == []
    assert reminders(service) == []
    assert woken["batchItemFailures"] == []


def test_a_confirmation_reminder_is_woken_and_a_yes_before_it_leaves_nothing(
    service: Service, timer_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFIRM_AFTER_SECONDS", "1")
    reset_caches()
    alert = service.send_alert([TECH, DESK], escalation={"after_seconds": 600, "max_rounds": 1})
    service.wrote(TECH)
    service.wrote(DESK)
    assert service.tap(alert["messages"][0]["message_id"], 2).status == 200  # Entrapment
    service.publish()  # the follow-up asks for the confirmation and schedules its wake-ups
    questions = [m for m in service.woosh.sent if "service provider" in (m.text or "")]
    assert len(questions) == 2
    records = wake_ups(service.sqs, timer_queue, wait=3)
    confirmation = [r for r in records if json.loads(r["body"])["series"] == "confirmation"]
    assert confirmation, records
    # The YES comes first: the reminder's wake-up finds nothing left to do.
    yes = next(m for m in questions if m.to == DESK.lstrip("+"))
    assert service.tap(yes.message_id, 0).status == 200
    woken = wake(confirmation)
    assert woken["confirmation_rounds"] == []
    assert not [
        m for m in service.woosh.sent if "REMINDER" in (m.text or "") and "service provider" in (m.text or "")
    ]


def test_a_woken_step_logs_and_counts_how_late_it_ran(
    service: Service, timer_queue: str, log_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = service.send_alert([TECH], escalation={"after_seconds": 1, "max_rounds": 1})
    [record] = wake_ups(service.sqs, timer_queue, wait=3)
    wake([record])
    [ran] = [line for line in log_lines(log_output.getvalue()) if line.get("message") == "timed step ran"]
    assert ran["alert_id"] == alert["alert_id"]
    assert ran["step"] == "reminder"
    assert 0 <= ran["lateness_seconds"] < 2
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    assert [m["StepLateness"] for m in metrics if "StepLateness" in m] == [[ran["lateness_seconds"]]]


def test_a_wake_up_due_past_900_s_is_chained(
    service: Service, timer_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS delays a message 900 s at most: a wake-up that arrives early sends the next one with
    the rest of the wait, and runs nothing yet."""
    sent: list[dict[str, Any]] = []
    from lift_alerts.platform.aws import client

    client("sqs").meta.events.register(
        "provide-client-params.sqs.SendMessage", lambda params, **_: sent.append(dict(params))
    )
    alert = service.send_alert([TECH], escalation={"after_seconds": 3600, "max_rounds": 1})
    [scheduled] = [p for p in sent if p["QueueUrl"] == timer_queue]
    assert scheduled["DelaySeconds"] == 900
    due = json.loads(scheduled["MessageBody"])["due_at"]
    early = {"messageId": "m-early", "body": scheduled["MessageBody"], "eventSource": "aws:sqs"}
    woken = wake([early])
    assert woken["chained"] == 1
    assert woken["rounds_sent"] == []
    assert woken["batchItemFailures"] == []
    [chained] = [p for p in sent if p["QueueUrl"] == timer_queue][1:]
    assert json.loads(chained["MessageBody"])["due_at"] == due
    assert chained["DelaySeconds"] == 900  # the rest of the wait is still past SQS's limit
    assert reminders(service) == []
    assert service.get_alert(alert["alert_id"]).json()["escalation"]["rounds_sent"] == 0


def test_a_wake_up_that_cannot_be_sent_fails_nothing_and_the_sweep_runs_the_step(
    service: Service, timer_queue: str, log_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    from lift_alerts.platform.aws import client

    def refuse(**kwargs: Any) -> None:
        if kwargs["params"].get("QueueUrl") == timer_queue:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    client("sqs").meta.events.register("before-parameter-build.sqs.SendMessage", refuse)
    answer = service.post_alert(
        {"ticket_id": "EMG-1", "lift_id": "LIFT-A", "recipients": [TECH], "escalation": {"after_seconds": 60}}
    )
    assert answer.status == 201
    assert "wake-up not scheduled; the one-minute sweep will run the step" in log_output.getvalue()
    assert '"WakeUpNotScheduled":[1.0]' in capsys.readouterr().out  # counted (an EMF metric)
    created = created_at(service, answer.json()["alert_id"])
    assert service.run_timer(datetime.fromtimestamp(created, UTC) + timedelta(seconds=61))["rounds_sent"] == [
        f"{answer.json()['alert_id']}:1"
    ]
    assert reminders(service) == [TECH.lstrip("+")]


def test_a_body_that_is_not_a_wake_up_is_dropped_not_retried(service: Service, timer_queue: str) -> None:
    woken = wake([{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}])
    assert woken["ignored"] == 1
    assert woken["batchItemFailures"] == []


def test_a_batch_of_wake_ups_runs_its_steps_side_by_side_each_logged_with_its_alert(
    service: Service, timer_queue: str, log_output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One after another, the last of ten steps due at once would wait for the nine before it.
    escalation = {"after_seconds": 1, "max_rounds": 1}
    alerts = [service.send_alert([phone], escalation=escalation) for phone in PHONES]
    records = wake_ups(service.sqs, timer_queue, wait=3)
    for _ in range(5):  # SQS hands out what is visible: up to five more looks
        if len(records) == len(alerts):
            break
        records += wake_ups(service.sqs, timer_queue, wait=1)
    together = threading.Barrier(len(records), timeout=5)  # each step waits for the others
    escalate = wake_up_runs.STEPS[StepSeries.ESCALATION]

    def step_beside_the_others(alert_id: str, run: Any) -> None:
        together.wait()
        escalate(alert_id, run)

    monkeypatch.setitem(wake_up_runs.STEPS, StepSeries.ESCALATION, step_beside_the_others)
    woken = wake(records)
    assert woken["batchItemFailures"] == []
    assert sorted(woken["rounds_sent"]) == sorted(f"{a['alert_id']}:1" for a in alerts)
    assert sorted(reminders(service)) == sorted(phone.lstrip("+") for phone in PHONES)
    # Each round's line names its own alert (the key a step adds to its lines is its thread's).
    sent = [line for line in log_lines(log_output.getvalue()) if line.get("message") == "reminder round sent"]
    assert sorted(line["alert_id"] for line in sent) == sorted(a["alert_id"] for a in alerts)
