"""`make bench`: every figure of issue 7 in one run -> bench/results.json and bench/RESULTS.md."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The layer and the handlers import from where Lambda would find them (as the tests do).
for _path in (str(ROOT / "layers" / "shared"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bench import cold  # noqa: E402

OUT = Path(__file__).resolve().parent
GOALS = {
    "cold_import_ratio_send": 1.3,
    "cold_import_ratio_webhook": 1.3,
    "aws_calls_per_tap": 2,
    "aws_calls_per_status": 1,
    "webhook_cpu_ratio_single_tap": 20,
    "batch_1000_seconds_at_10ms": 3,
    "cost_per_1000_alerts_usd": 0.02,
}


def _median_interleaved(a: Any, b: Any, rounds: int) -> tuple[float, float]:
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        a()
        ta.append(time.perf_counter() - start)
        start = time.perf_counter()
        b()
        tb.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def _batch_payload(tap: dict[str, Any], status: dict[str, Any], taps: int, statuses: int) -> dict[str, Any]:
    """One webhook body with `taps` taps on distinct alerts and `statuses` statuses on distinct messages."""
    payload = copy.deepcopy(tap)
    value = payload["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    reply = template["interactive"]["button_reply"]
    prefix, _alert, choice = reply["id"].split(":")
    messages = []
    for i in range(taps):
        message = copy.deepcopy(template)
        message["id"] = f"wamid.benchtap{i:06d}"
        message["context"]["id"] = f"wamid.benchmsg{i:06d}"
        message["interactive"]["button_reply"]["id"] = f"{prefix}:{i:032x}:{choice}"
        messages.append(message)
    status_template = status["entry"][0]["changes"][0]["value"]["statuses"][0]
    entries = []
    for i in range(statuses):
        entry = copy.deepcopy(status_template)
        entry["id"] = f"wamid.benchstatus{i:06d}"
        entries.append(entry)
    value["messages"] = messages
    value["statuses"] = entries
    return payload


def main() -> int:  # noqa: PLR0915 - one linear script, phase after phase
    started = time.perf_counter()
    results: dict[str, Any] = {}
    detail: dict[str, Any] = {"python": sys.version.split()[0], "machine": platform.machine()}

    # 1. Cold imports (fresh interpreters, interleaved, medians).
    cold_rounds = int(os.environ.get("BENCH_COLD_ROUNDS", "15"))
    imports = cold.measure(rounds=cold_rounds, functions=("send", "webhook", "publisher"))
    imports["breakdown_ratios"] = {  # type: ignore[index]
        name: round(imports["median_seconds"][name] / imports["median_seconds"]["boto3"], 3)  # type: ignore[index]
        for name in cold.BREAKDOWN
    }
    detail["cold_import"] = imports
    results["cold_import_ratio_send"] = round(imports["ratios"]["send"], 3)  # type: ignore[index]
    results["cold_import_ratio_webhook"] = round(imports["ratios"]["webhook"], 3)  # type: ignore[index]

    # 2. AWS requests per tap / status / send recipient (moto in-process, counted by hooks).
    from bench.aws import PLATFORM_LOG_BYTES, Bench, CannedAws
    from local.woosh_standin import signature_header
    from tests.support.harness import LOCAL_SECRET, LambdaContext, handler_module, http_event

    bench = Bench()
    svc = bench.service
    rec = bench.recorder
    try:
        # Warm-up: first calls read the secret (cached afterwards) and create clients.
        with rec.phase() as warm:
            first = svc.send_alert(["+27820000001"])
            svc.status(first["messages"][0]["message_id"], "delivered")
            svc.tap(first["messages"][0]["message_id"], 2)
            bench.publish()
        detail["warmup_calls"] = warm.as_dict()

        sends = {}
        for n in (1, 3):
            with rec.phase() as t:
                sent = svc.send_alert([f"+2782100{i:04d}" for i in range(n)])
            sends[n] = t.as_dict()
        bench.publish()
        per_recipient = (sends[3]["calls"] - sends[1]["calls"]) / 2
        results["aws_calls_per_send_recipient"] = per_recipient
        results["aws_calls_per_send_fixed"] = sends[1]["calls"] - per_recipient
        detail["send_1_recipient"] = sends[1]
        detail["send_3_recipients"] = sends[3]

        message_id = sent["messages"][0]["message_id"]
        with rec.phase() as t:
            svc.status(message_id, "delivered")
        results["aws_calls_per_status"] = t.total
        detail["status"] = t.as_dict()
        bench.publish()

        tap_payload = bench.woosh.tap(message_id, 2, post=False)["payload"]
        status_payload = bench.woosh.status(sent["messages"][1]["message_id"], "read", post=False)["payload"]
        with rec.phase() as t:
            svc.webhook(tap_payload)
        results["aws_calls_per_tap"] = t.total
        detail["tap_webhook"] = t.as_dict()
        with rec.phase() as t:
            bench.publish()
        results["aws_calls_per_tap_publisher_share"] = t.total
        detail["tap_publisher"] = t.as_dict()

        # 3. Cost scenario: K alerts, each one send (1 recipient), statuses sent/delivered/read
        # and one tap (4 webhooks), the publisher run after every webhook as the stream would.
        k = 10
        durations: dict[str, list[float]] = {"send": [], "webhook": [], "publisher": []}
        with rec.phase() as cost_tally:
            for i in range(k):
                calls_before = cost_tally.total
                out, secs = bench.timed("send", lambda i=i: svc.send_alert([f"+2783000{i:04d}"]))
                durations["send"].append(secs + 0 * calls_before)
                mid = out["messages"][0]["message_id"]
                steps = [lambda s=s, m=mid: svc.status(m, s) for s in ("sent", "delivered", "read")]
                steps.append(lambda m=mid: svc.tap(m, 2))
                for step in steps:
                    _, secs = bench.timed("webhook", step)
                    durations["webhook"].append(secs)
                    start = time.perf_counter()
                    bench.publish()
                    durations["publisher"].append(time.perf_counter() - start)
        detail["cost_scenario"] = {"alerts": k, **cost_tally.as_dict()}

        # 4. Webhook CPU vs floor: single tap, AWS answered instantly from canned moto answers.
        raw = json.dumps(tap_payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature_header(raw, LOCAL_SECRET["webhook_secret"]),
        }
        event = http_event("POST", "/webhook", body=raw, headers=headers)
        secret = LOCAL_SECRET["webhook_secret"].encode()
        expected = headers["X-Hub-Signature-256"].removeprefix("sha256=").encode()
        webhook_handler = handler_module("webhook").lambda_handler
        context = LambdaContext(function_name="webhook")

        def floor() -> None:
            json.loads(raw.decode())
            hmac.compare_digest(hmac.new(secret, raw, hashlib.sha256).hexdigest().encode(), expected)

        from lift_alerts.aws import client

        with bench.moto_paused(), CannedAws(rec) as canned, rec.phase() as t:
            answer = webhook_handler(event, context)
            assert json.loads(answer["body"])["outcomes"] == {"tap_matched_context": 1}, answer
            tap_params = rec.last_params["UpdateItem"]
            handler_s, floor_s = _median_interleaved(lambda: webhook_handler(event, context), floor, 300)
            # The one UpdateItem alone through botocore (serialise, validate, sign, parse), same stub.
            ddb = client("dynamodb")
            boto_s, floor2_s = _median_interleaved(lambda: ddb.update_item(**tap_params), floor, 300)
        results["webhook_cpu_ratio_single_tap"] = round(handler_s / floor_s, 2)
        detail["single_tap"] = {
            "handler_median_ms": round(handler_s * 1000, 4),
            "floor_median_ms": round(floor_s * 1000, 4),
            "body_bytes": len(raw),
            "botocore_update_item_median_ms": round(boto_s * 1000, 4),
            "botocore_update_item_ratio_to_floor": round(boto_s / floor2_s, 2),
            "stub_misses": dict(canned.missing),
        }

        # 5. 1000-update batch, every AWS call answered after 10 ms.
        batch = _batch_payload(tap_payload, status_payload, taps=250, statuses=750)
        braw = json.dumps(batch).encode()
        bheaders = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature_header(braw, LOCAL_SECRET["webhook_secret"]),
        }
        bevent = http_event("POST", "/webhook", body=braw, headers=bheaders)
        with bench.moto_paused(), CannedAws(rec, delay=0.010) as canned, rec.phase() as t:
            start = time.perf_counter()
            answer = webhook_handler(bevent, context)
            batch_s = time.perf_counter() - start
        body = json.loads(answer["body"])
        assert answer["statusCode"] == 200, answer
        assert body["received"] == 1000, body
        assert body["parked"] == 0, body
        results["batch_1000_seconds_at_10ms"] = round(batch_s, 3)
        detail["batch_1000"] = {
            "updates": "250 taps on distinct alerts + 750 statuses on distinct messages, one POST",
            "outcomes": body["outcomes"],
            "parked": body["parked"],
            "aws_calls": t.total,
            "stub_misses": dict(canned.missing),
        }
    finally:
        bench.close()

    # 6. Cost per 1000 alerts.
    from bench import cost
    from tests.support.harness import load_template

    memory_mb = int(load_template()["Globals"]["Function"].get("MemorySize", 128))
    ct = detail["cost_scenario"]
    calls = ct["by_operation"]
    per_alert = {
        "http_requests": (ct["invocations"].get("send", 0) + ct["invocations"].get("webhook", 0)) / k,
        "invocations_send": ct["invocations"].get("send", 0) / k,
        "invocations_webhook": ct["invocations"].get("webhook", 0) / k,
        "invocations_publisher": ct["invocations"].get("publisher", 0) / k,
        "wru": ct["dynamodb_wru"] / k,
        "rru": ct["dynamodb_rru"] / k,
        "events": calls.get("eventbridge.PutEvents", 0) / k,  # 1 event per PutEvents here (1 record/batch)
        "sqs": sum(v for op, v in calls.items() if op.startswith("sqs.")) / k,
        "log_bytes": (ct["log_bytes"] + PLATFORM_LOG_BYTES * sum(ct["invocations"].values())) / k,
    }
    put_events_entries = per_alert["events"]
    calls_per_invocation = {
        "send": detail["send_1_recipient"]["calls"],
        "webhook": (results["aws_calls_per_tap"] + 3 * results["aws_calls_per_status"]) / 4,
        "publisher": results["aws_calls_per_tap_publisher_share"] / 4,
    }
    durations_model = {
        fn: statistics.median(values)
        + calls_per_invocation[fn] * cost.AWS_LATENCY_S
        + (cost.WOOSH_LATENCY_S if fn == "send" else 0.0)
        for fn, values in durations.items()
    }
    init_seconds = {
        fn: imports["median_seconds"][fn]  # type: ignore[index]
        for fn in ("send", "webhook", "publisher")
    }
    priced = cost.cost_per_1000(
        per_alert=per_alert, durations=durations_model, init_seconds=init_seconds, memory_gb=memory_mb / 1024
    )
    results["cost_per_1000_alerts_usd"] = priced["total_usd"]
    detail["cost"] = {
        "per_alert": {k2: round(v, 4) for k2, v in per_alert.items()},
        "events_per_alert": put_events_entries,
        "modelled_duration_seconds": {fn: round(v, 4) for fn, v in durations_model.items()},
        "measured_median_seconds": {fn: round(statistics.median(v), 4) for fn, v in durations.items()},
        "init_seconds": init_seconds,
        "memory_mb": memory_mb,
        **priced,
    }

    detail["bench_seconds"] = round(time.perf_counter() - started, 1)
    results = {k2: results[k2] for k2 in sorted(results)}
    (OUT / "results.json").write_text(json.dumps({**results, "detail": detail}, indent=2, default=str) + "\n")
    from bench.report import write_markdown

    write_markdown(OUT / "RESULTS.md", results, detail, GOALS)
    print(json.dumps(results, indent=2))
    print(f"bench finished in {detail['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
