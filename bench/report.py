"""bench/RESULTS.md from the figures of one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import cost

BASELINE = Path(__file__).resolve().parent / "baseline.json"


def _ok(key: str, value: float, goals: dict[str, float]) -> str:
    if key not in goals:
        return "-"
    return "met" if value <= goals[key] else "NOT met"


def write_markdown(
    path: Path, results: dict[str, Any], detail: dict[str, Any], goals: dict[str, float]
) -> None:
    c = detail["cost"]
    lines = [
        "# Benchmarks (issue 7)",
        "",
        f"Written by `make bench` (`python -m bench.run`) in {detail['bench_seconds']} s on Python "
        f"{detail['python']} ({detail['machine']}). Every ratio's numerator and floor were measured "
        "side by side in this same run.",
        "",
        "| figure | before the Perf commits | this run | goal | |",
        "|---|---|---|---|---|",
    ]
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    for key, value in results.items():
        goal = goals.get(key)
        bound = f"≤ {goal}" if goal is not None else ""
        before = baseline.get(key, "")
        lines.append(f"| `{key}` | {before} | {value} | {bound} | {_ok(key, value, goals)} |")
    lines += ["", f"Before: {baseline.get('_note', '')}"]
    ci = detail["cold_import"]
    lines += [
        "",
        "## How each figure is measured",
        "",
        f"- **Cold import**: {ci['rounds']} interleaved rounds of fresh `python -c` processes "
        "(`import boto3`; `import app` of functions/<name>/app.py with layers/shared first on sys.path and "
        "the AWS/Powertools env set; nothing invoked). Wall time from the parent, medians (s): "
        + ", ".join(f"{k} {v:.3f}" for k, v in ci["median_seconds"].items())
        + ". Ratio = median(handler) / median(boto3). Breakdown (same method, same run, ratio to boto3): "
        + ", ".join(f"`{k}` {v}" for k, v in ci.get("breakdown_ratios", {}).items())
        + ".",
        "- **AWS calls**: botocore `before-call.*.*` hooks on the clients the code uses "
        "(`lift_alerts.aws.client(...)`: dynamodb, events, sqs, secretsmanager), moto in-process, "
        "after a warm-up (the secret is read once and cached by Powertools, so it is not in the "
        "steady-state figures; warm-up: "
        f"{detail['warmup_calls']['by_operation']}).",
        f"  - `aws_calls_per_tap` = the **webhook function only**, one tap with context.id: "
        f"{detail['tap_webhook']['by_operation']}.",
        f"  - `aws_calls_per_tap_publisher_share` = the publisher's requests for that tap's stream records "
        f"(separate function, outbox pattern): {detail['tap_publisher']['by_operation']}. "
        "Up to 10 events share "
        "one PutEvents when records arrive together.",
        f"  - `aws_calls_per_status` (webhook only, one `delivered`): {detail['status']['by_operation']}.",
        f"  - `aws_calls_per_send_recipient` = marginal requests per extra recipient ((3-recipient send - "
        f"1-recipient send) / 2); `aws_calls_per_send_fixed` = the rest of a send. 1 recipient: "
        f"{detail['send_1_recipient']['by_operation']}; 3 recipients: "
        f"{detail['send_3_recipients']['by_operation']}.",
        f"- **Webhook CPU ratio**: the webhook handler (`lambda_handler`, Powertools decorators, routing, "
        "signature, parse, match, log, metrics) for a single-tap body of "
        f"{detail['single_tap']['body_bytes']} bytes with AWS answered instantly by a `before-send` hook "
        "replaying moto's captured HTTP answers (request serialisation, signing and parsing still run), "
        f"median {detail['single_tap']['handler_median_ms']} ms, vs the floor `json.loads` + HMAC-SHA256 "
        f"check of the same body, median {detail['single_tap']['floor_median_ms']} ms; 300 interleaved runs. "
        f"The tap's one UpdateItem alone through botocore with the same stub: "
        f"{detail['single_tap']['botocore_update_item_median_ms']} ms = "
        f"{detail['single_tap']['botocore_update_item_ratio_to_floor']}x the floor.",
        f"- **Batch**: one POST of {detail['batch_1000']['updates']}; every AWS request answered by the same "
        f"replay hook after `time.sleep(0.010)`. AWS requests: "
        f"{detail['batch_1000']['aws_calls']}; outcomes: "
        f"{detail['batch_1000']['outcomes']}; parked: {detail['batch_1000']['parked']}.",
        "",
        "## Cost per 1000 alerts",
        "",
        f"Scenario, run for real in moto ({detail['cost_scenario']['alerts']} alerts): each alert is one "
        "`POST /alerts` to one recipient, then 4 webhooks (statuses sent, delivered, read and one tap), the "
        "publisher running after each webhook as the stream would trigger it (records the template's "
        "FilterCriteria rejects never invoke it). Counted per alert: "
        f"{c['per_alert']}.",
        "",
        "Model: Lambda billed duration = measured handler time in this run (moto in-process, Woosh on "
        f"loopback) + {cost.AWS_LATENCY_S * 1000:.0f} ms per counted AWS request + "
        f"{cost.WOOSH_LATENCY_S * 1000:.0f} ms Woosh latency per send; INIT is billed too (Lambda bills the "
        "init phase), taken as the measured cold import time for a share of invocations "
        f"{cost.COLD_FRACTION}; memory {c['memory_mb']} MB arm64 (template.yaml). Modelled durations (s): "
        f"{c['modelled_duration_seconds']}. DynamoDB units from item sizes "
        "(1 WRU per KB written, 1 RRU per 4 KB "
        "strongly consistent read). Secrets Manager: "
        f"{cost.SECRET_CALLS_PER_ALERT} calls per alert (cached 300 s). CloudWatch Logs: bytes the handlers "
        "actually logged (JSON logs + EMF metrics) + 350 bytes of platform lines per invocation. DynamoDB "
        "stream reads by Lambda are free. **WhatsApp/Woosh message fees are excluded.**",
        "",
        "| line | USD per 1000 alerts |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.6f} |" for k, v in c["lines_usd"].items()]
    lines += [
        f"| **total** | **{c['total_usd']:.5f}** |",
        "",
        f"### Prices (af-south-1, list, first tier, dated {cost.PRICES_DATE})",
        "",
        "| item | price |",
        "|---|---|",
    ]
    lines += [f"| {desc} | {text} |" for _, text, desc in cost.PRICES.values()]
    lines += [
        "",
        "Prices were taken from the public AWS pricing pages as known on that date; this machine cannot "
        "reach the AWS Price List API, so verify them before quoting.",
    ]
    notes = Path(__file__).resolve().parent / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    path.write_text("\n".join(lines) + "\n")
