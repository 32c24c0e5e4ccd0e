"""GET /status and the desk's /desk/api/status (SPEC §13): the service's health, part by part,
and a part that cannot be read is null with a problem saying why, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from lift_alerts.platform.aws import client
from lift_alerts.platform.config import get_settings
from tests.support.harness import REGION
from tests.support.service import Service

TECH = "27824537125"


@pytest.fixture
def health(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The service with two dead-letter queues and three alarms of its stack (one in ALARM)."""
    dlq = {
        name: service.sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("TicketingDLQ", "ParkedDLQ")
    }
    service.sqs.send_message(QueueUrl=dlq["ParkedDLQ"], MessageBody="{}")
    service.sqs.send_message(QueueUrl=dlq["ParkedDLQ"], MessageBody="{}")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URLS", ",".join(f"{name}={url}" for name, url in dlq.items()))
    monkeypatch.setenv("ALARM_NAME_PREFIX", "lift-alerts-test-")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for name in (
        "lift-alerts-test-TapUnmatchedAlarm-X1",
        "lift-alerts-test-Webhook5xxAlarm-X2",
        "other-stack-Alarm",
    ):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="LiftAlerts",
            MetricName="TapUnmatched",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    for name in ("lift-alerts-test-TapUnmatchedAlarm-X1", "other-stack-Alarm"):
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    get_settings.cache_clear()
    return service


def status(service: Service, path: str = "/status") -> dict[str, Any]:
    result = service.desk("GET", path)
    assert result.status == 200, result.text
    assert result.headers.get("Cache-Control") == "no-store"
    return dict(result.json())


def test_every_part_of_the_status(health: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    service = health
    # Woosh's windows at their real length (the tests' default shrinks them to 0.6 s).
    monkeypatch.setenv("WOOSH_RATE_TIME_SCALE", "1")
    from lift_alerts.platform.config import reset_caches

    reset_caches()
    service.sqs.send_message(QueueUrl=service.parked_url, MessageBody="{}")
    service.send_alert([TECH])  # one send slot used
    service.run_timer()  # the one-minute sweep, as the schedule invokes it

    answer = status(service)

    assert answer["queued"] == 0
    assert answer["parked"] == 1
    assert answer["dead_letters"] == {"TicketingDLQ": 0, "ParkedDLQ": 2}
    last_run = datetime.fromisoformat(answer["sweep"]["last_run_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - last_run).total_seconds()) < 60
    assert answer["send_budget"] == {"used_last_60s": 1, "limit": 100}
    assert answer["alarms"] == ["lift-alerts-test-TapUnmatchedAlarm-X1"]  # this stack's, in ALARM
    assert answer["problems"] == []
    assert status(service, "/desk/api/status") == answer


def test_before_any_sweep_and_with_messages_waiting(health: Service) -> None:
    from lift_alerts.store.send_queue import QueuedSend, SendQueue

    SendQueue(health.table).enqueue(
        [QueuedSend("a" * 32, 0, TECH, "alert", "0#x")], enqueued_at=1, expires_at=2_000_000_000
    )
    answer = status(health)
    assert answer["queued"] == 1
    assert answer["sweep"] == {"last_run_at": None}


def failing(service_name: str, operation: str, code: str = "AccessDenied") -> Iterator[None]:
    """Every `operation` of the container's `service_name` client fails (botocore's before-call hook)."""
    from botocore.exceptions import ClientError

    def refuse(model: Any, **_kwargs: Any) -> None:
        if model.name == operation:
            raise ClientError({"Error": {"Code": code, "Message": "not allowed"}}, operation)

    events = client(service_name).meta.events  # type: ignore[call-overload]
    events.register(f"before-call.{service_name}", refuse)
    yield
    events.unregister(f"before-call.{service_name}", refuse)


@pytest.fixture
def alarms_unreadable() -> Iterator[None]:
    yield from failing("cloudwatch", "DescribeAlarms")


@pytest.fixture
def queues_unreadable() -> Iterator[None]:
    yield from failing("sqs", "GetQueueAttributes", "AWS.SimpleQueueService.NonExistentQueue")


@pytest.fixture
def table_unreadable() -> Iterator[None]:
    yield from failing("dynamodb", "Query", "ProvisionedThroughputExceededException")


def test_alarms_that_cannot_be_read_are_null_with_a_problem(health: Service, alarms_unreadable: None) -> None:
    answer = status(health)
    assert answer["alarms"] is None
    assert answer["problems"] == [{"part": "alarms", "message": "AWS answered AccessDenied: not allowed"}]
    assert answer["dead_letters"] == {"TicketingDLQ": 0, "ParkedDLQ": 2}  # the rest is there


def test_queues_that_cannot_be_read_are_null_each_with_a_problem(
    health: Service, queues_unreadable: None
) -> None:
    answer = status(health)
    assert answer["parked"] is None
    assert answer["dead_letters"] == {"TicketingDLQ": None, "ParkedDLQ": None}
    assert {p["part"] for p in answer["problems"]} == {
        "parked",
        "dead_letters.TicketingDLQ",
        "dead_letters.ParkedDLQ",
    }
    assert answer["alarms"] == ["lift-alerts-test-TapUnmatchedAlarm-X1"]


def test_a_send_queue_that_cannot_be_read_is_null_with_a_problem(
    health: Service, table_unreadable: None
) -> None:
    answer = status(health)
    assert answer["queued"] is None
    assert [p["part"] for p in answer["problems"]] == ["queued"]
    assert "ProvisionedThroughputExceededException" in answer["problems"][0]["message"]
    assert answer["send_budget"] is not None  # a GetItem: still read


def test_what_is_not_configured_is_a_problem_not_a_failure(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARKED_QUEUE_URL")
    monkeypatch.delenv("ALARM_NAME_PREFIX", raising=False)
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URLS", raising=False)
    get_settings.cache_clear()

    answer = status(service)

    assert (answer["parked"], answer["alarms"], answer["dead_letters"]) == (None, None, None)
    assert {p["part"]: p["message"] for p in answer["problems"]} == {
        "parked": "PARKED_QUEUE_URL is not set",
        "alarms": "ALARM_NAME_PREFIX is not set",
        "dead_letters": "DEAD_LETTER_QUEUE_URLS is not set",
    }


def test_the_sweep_records_its_run_in_one_write(service: Service) -> None:
    service.run_timer()
    item = service.ddb.get_item(TableName=service.table, Key={"pk": {"S": "sweep#last"}})["Item"]
    assert set(item) == {"pk", "ran_at"}
    assert json.dumps(item["ran_at"]["S"]).endswith('Z"')
