"""The service's queues and alarms as `GET /status` reads them (SPEC §13): how many messages an
SQS queue holds (the parked queue, every dead-letter queue) and which of the stack's CloudWatch
alarms are in ALARM. Read-only; the clients are the container's (`platform.aws.client`)."""

from __future__ import annotations

from lift_alerts.platform.aws import client


def queue_depth(queue_url: str) -> int:
    """ApproximateNumberOfMessages: the messages waiting in the queue (not those in flight)."""
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", "0"))


def alarms_in_alarm(name_prefix: str) -> list[str]:
    """The names of the alarms whose name starts with `name_prefix` that are in ALARM, sorted."""
    names: list[str] = []
    pages = client("cloudwatch").get_paginator("describe_alarms")
    for page in pages.paginate(AlarmNamePrefix=name_prefix, StateValue="ALARM"):
        alarms = [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
        # The state is checked here too: an emulator may apply only one of the two filters.
        names += [str(a["AlarmName"]) for a in alarms if a.get("StateValue") == "ALARM"]
    return sorted(names)
