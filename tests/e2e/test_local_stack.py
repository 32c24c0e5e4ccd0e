"""`python -m local.stack` as a child process on free ports, driven only over HTTP like a real client."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from local.process import StackProcess
from local.template import REPO_ROOT
from local.woosh_standin import WooshStandIn
from tests.support.e2e import post_alert, recorded, sent_where, shown, standin_control, tap, wait_for_event

TECHNICIAN = "+27824537125"
COLLEAGUE = "+27831234567"


def test_send_tap_event_get_over_http(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    alert_a = post_alert(api, "EMG-E2E-A", "LIFT-A", [TECHNICIAN])
    alert_b = post_alert(api, "EMG-E2E-B", "LIFT-B", [TECHNICIAN, COLLEAGUE])
    message_b = next(m for m in alert_b["messages"] if m["to"] == TECHNICIAN.lstrip("+"))

    sent = requests.get(f"{woosh}/_sent", timeout=10).json()
    recorded = next(m for m in sent if m["message_id"] == message_b["message_id"])
    assert [title for _id, title in recorded["buttons"]] == ["Test", "Maintenance", "Entrapment"]

    tap_id = tap(woosh, message_b["message_id"], 2, "E2E")

    event = wait_for_event(stack.info, lambda e: e.get("detail", {}).get("event_id") == tap_id)
    assert event["detail-type"] == "Alert Response Received"
    assert event["source"] == "lift-alerts"
    assert event["detail"]["ticket_id"] == "EMG-E2E-B"
    assert event["detail"]["choice"] == "entrapment"
    assert event["detail"]["first_response"] is True

    alert = requests.get(f"{api}/alerts/{alert_b['alert_id']}", timeout=10).json()
    assert alert["state"] == "answered"
    assert alert["first_response"]["event_id"] == tap_id
    assert alert["first_response"]["choice"] == "entrapment"
    untouched = requests.get(f"{api}/alerts/{alert_a['alert_id']}", timeout=10).json()
    assert untouched["first_response"] is None


def test_status_callback_and_failed_delivery_over_http(stack: StackProcess) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    alert = post_alert(api, "EMG-E2E-C", "LIFT-C", [COLLEAGUE])
    message_id = alert["messages"][0]["message_id"]

    answer = standin_control(
        woosh, "_status", {"message_id": message_id, "status": "failed", "error_code": 131026}
    )
    assert answer["status"] == 200

    event = wait_for_event(
        stack.info,
        lambda e: e["detail-type"] == "Alert Delivery Failed" and e["detail"].get("message_id") == message_id,
    )
    assert event["detail"]["alert_id"] == alert["alert_id"]
    recipient = requests.get(f"{api}/alerts/{alert['alert_id']}", timeout=10).json()["recipients"][0]
    assert recipient["delivery_status"] == "failed"


def test_api_gateway_answers_for_unknown_routes_and_signatures(stack: StackProcess) -> None:
    api = stack.info["api_url"]
    unknown = requests.get(f"{api}/nope", timeout=10)
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Not Found"}
    assert requests.post(f"{api}/webhook", data=b"{}", timeout=10).status_code == 401
    challenge = requests.get(
        f"{api}/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "local-verify-token", "hub.challenge": "42"},
        timeout=10,
    )
    assert challenge.status_code == 200
    assert challenge.text == "42"


def _readme_curl_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", readme, flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        # a JSON body may span lines inside its quotes
        for command in re.findall(r"^curl .*?(?=^\S|\Z)", joined, flags=re.MULTILINE | re.DOTALL):
            if "127.0.0.1:3000" in command:
                commands.append(" ".join(command.split()))
    return commands


def test_readme_curl_examples_work_against_the_stack(stack: StackProcess) -> None:
    commands = _readme_curl_commands()
    if not commands:
        pytest.skip("README.md has no curl example against 127.0.0.1:3000 yet")
    alert_id: str | None = None
    for example in commands:
        command = example.replace("http://127.0.0.1:3000", stack.info["api_url"])
        if "<alert_id>" in command:
            assert alert_id, "the README uses <alert_id> before creating an alert"
            command = command.replace("<alert_id>", alert_id)
        result = subprocess.run(
            ["bash", "-c", command + " -w '\\n%{http_code}'"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        body, _, status = result.stdout.rpartition("\n")
        assert status.isdigit(), result.stdout
        assert int(status) < 400, (command, status, body)
        answer = json.loads(body)
        alert_id = alert_id or answer.get("alert_id")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_other_bridge_from_environment_and_clean_shutdown() -> None:
    bridge = WooshStandIn(api_key="local-woosh-key").start()
    process = StackProcess(env={"WOOSH_BASE_URL": bridge.base_url})
    try:
        process.start()
        assert process.info["woosh_standin"] is False
        assert process.info["woosh_url"] == bridge.base_url
        post_alert(process.info["api_url"], "EMG-E2E-D", "LIFT-D", [TECHNICIAN])
        assert [m.to for m in bridge.sent] == [TECHNICIAN.lstrip("+")]
        ports = [int(process.info[key].rsplit(":", 1)[1]) for key in ("api_url", "aws_endpoint")]
        pid = process.pid

        started = time.monotonic()
        code = process.stop(timeout=15)

        assert code == 0
        assert time.monotonic() - started < 10
        assert all(_port_closed(port) for port in ports)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        process.cleanup()
        bridge.stop()


def test_port_in_use_is_a_one_line_error_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "API_PORT": str(port), "AWS_PORT": str(_free_port()), "WOOSH_PORT": "0"}
        result = subprocess.run(
            [sys.executable, "-m", "local.stack"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_ctrl_c_stops_the_foreground_stack(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    env = {**os.environ, "API_PORT": "0", "AWS_PORT": "0", "WOOSH_PORT": "0"}
    child = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--ready-file", str(ready)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)
        assert ready.exists()
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=15)
        assert child.returncode == 0
        assert "Traceback" not in err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


SUPERVISOR = "+27820000001"
FAST_TIMER_SECONDS = 0.5


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_escalation_over_http_reminds_supervisor_and_marks_unanswered() -> None:
    """SPEC §9 against moto server: the template's Schedule event driven by the stack's timer."""
    with StackProcess(env={"LOCAL_TIMER_SECONDS": str(FAST_TIMER_SECONDS)}) as process:
        api, woosh = process.info["api_url"], process.info["woosh_url"]
        answered = post_alert(
            api,
            "EMG-E2E-ESC-1",
            "LIFT-E",
            [TECHNICIAN],
            escalation={"after_seconds": 2, "max_rounds": 2, "recipients": [SUPERVISOR]},
        )
        ignored = post_alert(
            api, "EMG-E2E-ESC-2", "LIFT-F", [COLLEAGUE], escalation={"after_seconds": 1, "max_rounds": 1}
        )
        created = _epoch(
            requests.get(f"{api}/alerts/{answered['alert_id']}", timeout=10).json()["created_at"]
        )
        supervisor = SUPERVISOR.lstrip("+")

        reminder = sent_where(
            woosh,
            lambda m: m["to"] == supervisor and shown(m).startswith("REMINDER 1/2"),
            timeout=20,
        )
        # created_at is whole seconds (floored), so "not early" is exact; lateness is one timer run or so.
        assert reminder["received_at"] >= created + 2
        assert [title for _id, title in reminder["buttons"]] == ["Test", "Maintenance", "Entrapment"]
        assert all(answered["alert_id"] in button_id for button_id, _title in reminder["buttons"])

        recorded(api, answered["alert_id"], SUPERVISOR, reminder["message_id"])
        tap_id = tap(woosh, reminder["message_id"], 2, "Supervisor")

        seen: list[dict[str, Any]] = []
        response = wait_for_event(process.info, lambda e: e["detail"].get("event_id") == tap_id, seen=seen)[
            "detail"
        ]
        assert response["alert_id"] == answered["alert_id"]
        assert response["original_message_id"] == reminder["message_id"]
        assert response["matched_by"] == "context"
        assert response["first_response"] is True
        unanswered = wait_for_event(
            process.info,
            lambda e: (
                e["detail-type"] == "Alert Unanswered" and e["detail"]["alert_id"] == ignored["alert_id"]
            ),
            seen=seen,
        )["detail"]
        assert unanswered["event_id"] == f"{ignored['alert_id']}:unanswered"
        assert unanswered["rounds"] == 1

        # Round 2 of the answered alert would be due 4 s after creation: wait past it.
        time.sleep(max(0.0, created + 4 + 4 * FAST_TIMER_SECONDS - time.time()))
        texts = [shown(m) for m in requests.get(f"{woosh}/_sent", timeout=10).json()]
        assert not [t for t in texts if t.startswith("REMINDER 2/2")]
        final = requests.get(f"{api}/alerts/{answered['alert_id']}", timeout=10).json()
        assert final["state"] == "answered"
        assert final["escalation"]["rounds_sent"] == 1
        assert final["escalation"]["next_due_at"] is None
        assert requests.get(f"{api}/alerts/{ignored['alert_id']}", timeout=10).json()["state"] == "unanswered"
