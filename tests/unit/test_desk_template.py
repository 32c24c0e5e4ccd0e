"""The desk in template.yaml (SPEC §13): it reads every dead-letter queue, and can only read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.support.harness import load_template


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Queues something sends its failures to: a redrive target, a rule's or a mapping's DLQ."""
    found = set()
    for key, value in _walk(resources):
        if key in ("deadLetterTargetArn", "Destination") or (key == "DeadLetterConfig" and "Arn" in value):
            target = value["Arn"] if key == "DeadLetterConfig" else value
            if isinstance(target, dict) and "Fn::GetAtt" in target:
                found.add(str(target["Fn::GetAtt"][0]))
    return {name for name in found if resources[name]["Type"] == "AWS::SQS::Queue"}


def _desk() -> dict[str, Any]:
    return dict(load_template()["Resources"]["DeskFunction"]["Properties"])


def test_the_status_reads_every_dead_letter_queue_of_the_template() -> None:
    resources = load_template()["Resources"]
    queues = _dead_letter_queues(resources)
    assert queues >= {"TicketingDLQ", "PublisherDLQ", "ParkedDLQ", "FollowUpDLQ"}
    listed = _desk()["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URLS"]["Fn::Sub"]
    assert dict(re.findall(r"(\w+)=\$\{(\w+)\}", listed)) == {name: name for name in queues}
    readable = {
        resource["Fn::GetAtt"][0]
        for statement in _desk()["Policies"][0]["Statement"]
        if statement["Action"] == "sqs:GetQueueAttributes"
        for resource in statement["Resource"]
    }
    assert readable == queues | {"ParkedQueue"}


def test_the_desk_can_read_and_never_write_or_send() -> None:
    actions = {
        action
        for policy in _desk()["Policies"]
        for statement in (policy.get("Statement") or [])
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "sqs:GetQueueAttributes",
        "cloudwatch:DescribeAlarms",
    }
    assert [list(policy) for policy in _desk()["Policies"][1:]] == [["AWSSecretsManagerGetSecretValuePolicy"]]


def test_desk_users_are_added_by_an_administrator_and_sign_in_with_pkce() -> None:
    resources = load_template()["Resources"]
    pool = resources["DeskUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert pool["MfaConfiguration"] == "ON"
    client = resources["DeskUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"]
    routes = {
        event["Properties"]["Path"]: event["Properties"]["Auth"]["Authorizer"]
        for event in _desk()["Events"].values()
    }
    assert routes == {
        "/alerts": "AWS_IAM",
        "/status": "AWS_IAM",
        "/desk": "NONE",
        "/desk/api/alerts": "DeskUsers",
        "/desk/api/alerts/{alert_id}": "DeskUsers",
        "/desk/api/status": "DeskUsers",
    }
