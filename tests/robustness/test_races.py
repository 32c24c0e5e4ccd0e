"""Races against moto server: real threads invoking the real handlers at the same time.

Each thread plays one Lambda container (its own copy of the handler module), all of them
against one moto server on loopback, as concurrent invocations hit one DynamoDB table.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

from lift_alerts.platform import aws
from lift_alerts.platform.config import reset_caches
from local.woosh_standin import WooshStandIn, signature_header
from tests.support.harness import container_module, http_event, lambda_context, timer_context, to_result
from tests.support.service import Service

pytestmark = pytest.mark.robustness

TRIALS = 20
RACES = {"trials": 0, "lost": 0, "doubled": 0}


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def live(moto_server: str, woosh: WooshStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("WOOSH_BASE_URL", woosh.base_url)
    monkeypatch.delenv("ALERT_TEMPLATE_NAME", raising=False)
    reset_caches()
    yield Service(woosh)
    reset_caches()
    os.environ.pop("AWS_ENDPOINT_URL", None)


_CONTAINERS: dict[tuple[str, int], ModuleType] = {}


def container(function: str, n: int) -> ModuleType:
    """functions/<function>/app.py loaded as container n (its own resolver and state)."""
    key = (function, n)
    if key not in _CONTAINERS:
        _CONTAINERS[key] = container_module(function, f"race{n}")
    return _CONTAINERS[key]


def invoke_webhook(n: int, payload: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_header(raw, "test-webhook-secret"),
    }
    event = http_event("POST", "/webhook", body=raw, headers=headers)
    result = to_result(container("webhook", n).lambda_handler(event, lambda_context("webhook")))
    assert result.status == 200, result.text
    return dict(result.json())


def invoke_send(n: int, body: dict[str, Any]) -> Any:
    event = http_event("POST", "/alerts", body=body)
    return to_result(container("send", n).lambda_handler(event, lambda_context("send")))


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released at the same instant; re-raise any exception."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [f.result(timeout=60) for f in futures]


def tap_payload(live: Service, message_id: str, index: int, **kwargs: Any) -> dict[str, Any]:
    return dict(live.woosh.tap(message_id, index, post=False, **kwargs)["payload"])


def tap_id(payload: dict[str, Any]) -> str:
    return str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


def check_published(live: Service, alert_id: str, expected: list[str]) -> None:
    events = [e for e in live.details("Alert Response Received") if e["alert_id"] == alert_id]
    ids = [e["event_id"] for e in events]
    lost = len(set(expected) - set(ids))
    doubled = len(ids) - len(set(ids))
    RACES["lost"] += lost
    RACES["doubled"] += doubled
    assert lost == 0, f"taps lost: {set(expected) - set(ids)}"
    assert doubled == 0, f"taps doubled: {ids}"
    assert sorted(ids) == sorted(expected)
    assert sum(1 for e in events if e["first_response"]) == 1


def test_many_recipients_tapping_one_alert(live: Service) -> None:
    recipients = [f"+2782{i:07d}" for i in range(8)]
    for _trial in range(TRIALS):
        sent = live.send_alert(recipients)
        payloads = [tap_payload(live, line["message_id"], i % 3) for i, line in enumerate(sent["messages"])]
        answers = together([lambda n=n, p=p: invoke_webhook(n, p) for n, p in enumerate(payloads)])
        RACES["trials"] += 1
        assert all(a["outcomes"] == {"tap_matched_context": 1} for a in answers), answers
        alert = live.stored_alert(sent["alert_id"])
        ids = [tap_id(p) for p in payloads]
        assert sorted(r["event_id"] for r in alert["responses"]) == sorted(ids)
        assert alert["first_response"] == alert["responses"][0]
        check_published(live, sent["alert_id"], ids)


def test_the_same_tap_delivered_by_two_invocations_at_once(live: Service) -> None:
    for _trial in range(TRIALS):
        sent = live.send_alert(["+27824537125"])
        payload = tap_payload(live, sent["messages"][0]["message_id"], 2)
        answers = together([lambda p=payload: invoke_webhook(0, p), lambda p=payload: invoke_webhook(1, p)])
        RACES["trials"] += 1
        outcomes = sorted(next(iter(a["outcomes"])) for a in answers)
        assert outcomes == ["tap_duplicate", "tap_matched_context"], answers
        alert = live.stored_alert(sent["alert_id"])
        assert [r["event_id"] for r in alert["responses"]] == [tap_id(payload)]
        check_published(live, sent["alert_id"], [tap_id(payload)])


def test_a_status_racing_a_tap(live: Service) -> None:
    for trial in range(TRIALS):
        sent = live.send_alert(["+27824537125", "+27831234567"])
        first, second = (line["message_id"] for line in sent["messages"])
        taps = [tap_payload(live, first, 2), tap_payload(live, second, 0)]
        statuses = [
            live.woosh.status(first, "read", post=False)["payload"],
            live.woosh.status(first, "delivered", post=False)["payload"],
            live.woosh.status(second, "failed" if trial % 2 else "sent", post=False)["payload"],
        ]
        calls = [lambda n=n, p=p: invoke_webhook(n, p) for n, p in enumerate(taps + statuses)]
        together(calls)
        RACES["trials"] += 1
        view = live.get_alert(sent["alert_id"]).json()
        delivery = {line["message_id"]: line["delivery_status"] for line in view["recipients"]}
        assert delivery[first] == "read"  # never backwards
        assert delivery[second] == ("failed" if trial % 2 else "sent")
        check_published(live, sent["alert_id"], [tap_id(t) for t in taps])
        failures = [f for f in live.details("Alert Delivery Failed") if f["alert_id"] == sent["alert_id"]]
        assert len(failures) == (1 if trial % 2 else 0)


def test_tap_and_status_arriving_before_the_send_returned(live: Service) -> None:
    """The webhook fires as soon as Woosh accepted the send, while the mappings are not stored."""
    ddb = aws.client("dynamodb")

    def slow_mapping(**kwargs: Any) -> None:
        body = json.loads(kwargs["params"].get("body") or b"{}")
        if str(body.get("Key", {}).get("pk", {}).get("S", "")).startswith(
            "msg#"
        ) and threading.current_thread().name.startswith("store"):
            time.sleep(0.15)  # the send's own mapping write is slow: the webhook overtakes it

    ddb.meta.events.register("before-call.dynamodb.UpdateItem", slow_mapping, unique_id="slow-mapping")
    try:
        for trial in range(TRIALS):
            live.woosh.reset()
            body = {
                "ticket_id": f"EMG-{trial}",
                "lift_id": "L",
                "recipients": ["+27824537125", "+27831234567"],
            }
            results: dict[str, Any] = {}

            def send(
                body: dict[str, Any] = body, results: dict[str, Any] = results, n: int = trial % 2
            ) -> None:
                results["send"] = invoke_send(n, body)

            sender = threading.Thread(target=send)
            sender.start()
            accepted = live.woosh.wait_for_sent(2, timeout=20)
            tap = tap_payload(live, accepted[0].message_id, 2)
            failed = live.woosh.status(accepted[1].message_id, "failed", post=False)["payload"]
            together([lambda t=tap: invoke_webhook(2, t), lambda f=failed: invoke_webhook(3, f)])
            sender.join(timeout=30)
            RACES["trials"] += 1
            result = results["send"]
            assert result.status == 201, result.text
            alert_id = result.json()["alert_id"]
            alert = live.stored_alert(alert_id)
            assert [r["event_id"] for r in alert["responses"]] == [tap_id(tap)]
            view = live.get_alert(alert_id).json()
            by_id = {line["message_id"]: line["delivery_status"] for line in view["recipients"]}
            assert by_id[accepted[1].message_id] == "failed"
            check_published(live, alert_id, [tap_id(tap)])
            failures = [f for f in live.details("Alert Delivery Failed") if f["alert_id"] == alert_id]
            assert [f["message_id"] for f in failures] == [accepted[1].message_id]
    finally:
        ddb.meta.events.unregister("before-call.dynamodb.UpdateItem", unique_id="slow-mapping")


def invoke_timer(n: int, now: datetime) -> dict[str, Any]:
    """Escalation container n's scheduled invocation, its clock set to `now`."""
    module = container("escalation", n)
    module.utc_now = lambda: now  # the one thing changed: when this container thinks it is
    return dict(module.lambda_handler({"source": "aws.events"}, timer_context()))


def test_timer_invocations_at_the_same_moment_send_each_round_once(live: Service) -> None:
    """Four scheduled invocations at once, for a reminder round and for the unanswered mark."""
    recipients = ["+27824537125", "+27831234567", "+27820000002"]
    supervisor = "27820000001"
    for trial in range(TRIALS):
        sent = live.send_alert(
            recipients,
            ticket_id=f"EMG-T{trial}",
            escalation={"after_seconds": 60, "max_rounds": 1, "recipients": ["+" + supervisor]},
        )
        alert_id = sent["alert_id"]
        created = datetime.fromisoformat(live.get_alert(alert_id).json()["created_at"].replace("Z", "+00:00"))

        runs = together(
            [lambda n=n, at=created + timedelta(seconds=61): invoke_timer(n, at) for n in range(4)]
        )
        RACES["trials"] += 1
        assert sum(len(r["rounds_sent"]) for r in runs) == 1, runs
        assert sum(r["errors"] for r in runs) == 0, runs
        reminded = sorted(
            m.to
            for m in live.woosh.sent
            if m.accepted
            and (m.text or "").startswith("REMINDER 1/1")
            and any(alert_id in button_id for button_id, _title in m.buttons)
        )
        assert reminded == sorted([r.lstrip("+") for r in recipients] + [supervisor])

        runs = together(
            [lambda n=n, at=created + timedelta(seconds=121): invoke_timer(n, at) for n in range(4)]
        )
        RACES["trials"] += 1
        assert sum(len(r["unanswered"]) for r in runs) == 1, runs
        escalated = [e for e in live.details("Alert Escalated") if e["alert_id"] == alert_id]
        unanswered = [e for e in live.details("Alert Unanswered") if e["alert_id"] == alert_id]
        assert [e["event_id"] for e in escalated] == [f"{alert_id}:round:1"]
        assert [e["event_id"] for e in unanswered] == [f"{alert_id}:unanswered"]
        assert live.get_alert(alert_id).json()["state"] == "unanswered"


def test_race_figures() -> None:
    print(f"race trials: {RACES['trials']}, taps lost: {RACES['lost']}, doubled: {RACES['doubled']}")
