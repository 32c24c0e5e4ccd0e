"""The webhook's Powertools floor (bench/webhook_floor.py) does a tap's work and no more: it
routes POST /webhook, refuses a wrong bearer token, reads the tap's alert from its button id
and makes the one update; the observed variant adds one log line."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from bench.webhook_floor import powertools_floor


@dataclass
class Context:
    function_name: str = "floor"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:af-south-1:123456789012:function:floor"
    aws_request_id: str = "request-1"


def tap_event(token: str) -> dict[str, Any]:
    message = {
        "from": "27820000001",
        "id": "wamid.tap",
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "la1:abc123:entrapment", "title": "E"},
        },
    }
    body = {"entry": [{"changes": [{"value": {"messages": [message]}}]}]}
    return {
        "version": "2.0",
        "routeKey": "POST /webhook",
        "rawPath": "/webhook",
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}", "content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": "/webhook"},
            "requestId": "r1",
            "stage": "$default",
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def test_the_floor_checks_the_token_and_updates_the_tapped_alert_once() -> None:
    updates: list[str] = []
    floor = powertools_floor(updates.append, b"secret-token")
    answer = floor(tap_event("secret-token"), Context())
    assert answer["statusCode"] == 200
    assert updates == ["abc123"]
    refused = floor(tap_event("wrong"), Context())
    assert refused["statusCode"] == 401
    assert updates == ["abc123"]


def test_the_observed_floor_adds_one_log_line() -> None:
    lines = io.StringIO()
    updates: list[str] = []
    observed = powertools_floor(updates.append, b"t", observed=True, log_stream=lines)
    assert observed(tap_event("t"), Context())["statusCode"] == 200
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [line["message"] for line in logged] == ["tap recorded"]
    assert logged[0]["alert_id"] == "abc123"
