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


def _mass_section(mass: dict[str, Any]) -> list[str]:
    """The mass-alarm run's figures (SPEC §11), from its own key in results.json."""
    lines: list[str] = []
    for key, run in mass.items():
        if not isinstance(run, dict):
            continue
        r = run.get
        spread = float(r("spread_seconds") or 0)
        posted = f"posted evenly over {spread:g} s" if spread else "posted all at once"
        stress = bool(r("report_only"))
        lines += [
            "",
            f"## Mass alarms (`{key}`: `python -m bench.mass`, run first by `make bench`)",
            "",
            *(
                [
                    "A stress run beside the one above, reported without a goal: every alarm posted "
                    "at the same instant, so the local stack's one interpreter serves all their "
                    "handler threads together (in AWS each POST has its own instance). The first "
                    "message waits for that, and first reach with it.",
                    "",
                ]
                if stress
                else []
            ),
            f"{r('alarms')} alarms x {r('recipients')} recipients {posted} over HTTP to the local "
            f"stack ({r('connections')} POSTs in flight), Woosh's limits scaled in time "
            f"x{r('time_scale')} for the stand-in and the send budget together; {r('run_seconds')} s. "
            f"Plot: [`{r('plot')}`]({r('plot')}).",
            "",
            "| figure | this run | goal | |",
            "|---|---|---|---|",
        ]
        goals = {"mass_alarm_first_reach_ratio": 1.15, "mass_alarm_all_sent_ratio": 1.10}
        zero = ("mass_alarm_rate_limited", "mass_alarm_lost", "mass_alarm_doubled", "mass_alarm_unfinished")
        for figure in ("mass_alarm_first_reach_ratio", "mass_alarm_all_sent_ratio", *zero):
            value = run.get(figure)
            if stress:
                goal = f"≤ {goals[figure]}" if figure in goals else "= 0"
                lines.append(f"| `{figure}` | {value} | ({goal} above) | stress run: no goal |")
            elif figure in goals:
                verdict = "met" if isinstance(value, (int, float)) and value <= goals[figure] else "NOT met"
                lines.append(f"| `{figure}` | {value} | ≤ {goals[figure]} | {verdict} |")
            else:
                lines.append(f"| `{figure}` | {value} | = 0 | {'met' if value == 0 else 'NOT met'} |")
        lines += [
            "",
            f"First reach {r('first_reach_seconds')} s against the floor "
            f"{r('first_reach_floor_seconds')} s; all sent {r('all_sent_seconds')} s against "
            f"{r('all_sent_floor_seconds')} s. Of the first {r('alarms')} messages Woosh accepted, "
            f"{r('mass_alarm_firsts_in_first_n')} went to an alarm's first recipient. Posting all alarms "
            f"took {r('posting_seconds')} s (POST median {r('post_median_seconds')} s, max "
            f"{r('post_max_seconds')} s): the local "
            "stack's own speed on this machine, which the first-reach floor does not allow for.",
            "",
            f"The first message was accepted {r('first_accepted_seconds')} s after the posts were "
            f"released (their work up to the first reservation, plus the series' head); the first "
            f"recipients' slots then took {r('firsts_span_seconds')} s, where the floor counts 9.9: "
            f"the budget's guard ({r('guard_ms')} ms) is added to every window of 10. Messages "
            f"accepted per minute: {r('accepted_per_window')} (100 each at best).",
        ]
    return lines


def write_markdown(
    path: Path,
    results: dict[str, Any],
    detail: dict[str, Any],
    goals: dict[str, float],
    *,
    mass: dict[str, Any] | None = None,
) -> None:
    c = detail["cost"]
    lines = [
        "# Benchmarks (issues 7 and 14)",
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
    st = detail["single_tap"]
    med = ci["median_seconds"]
    cold_rows = [
        f"  - {f}: {med[f]:.3f} s / {med[f + ':libraries']:.3f} s CPU, median of pair ratios {ratio:.3f}, "
        f"ours {ci['own_import_ms'][f]} ms; separate processes, wall: "
        f"{ci['separate_process_wall_ratios'].get(f, '-')} "
        f"({ci['library_modules'][f]} modules of {', '.join(ci['libraries'][f])})"
        for f, ratio in ci["ratios"].items()
    ]
    tap_rows = [
        f"  - {kind}: handler {v['handler_median_ms']} ms / floor {v['floor_median_ms']} ms "
        f"= **{v['ratio']}** "
        f"(floor parts measured apart: UpdateItem {v['floor_update_item_median_ms']} ms, json.loads + "
        f"credential {v['floor_json_and_credential_median_ms']} ms)"
        for kind, v in st.items()
        if isinstance(v, dict) and kind != "layers"
    ]
    layers = st.get("layers") or {}
    if layers:
        part = {name: f"{v['median_ms']} ms (**{v['ratio']}**)" for name, v in layers.items()}
        tap_rows.append(
            "  - Where the time over the floor goes (bearer; each part timed interleaved with the floor "
            f"in this run): whole handler {part.get('handler')}; without Powertools' three decorators "
            f"(logger context, tracer, metrics flush) {part.get('without_decorators')}; the route "
            "function alone (authentication, parsing, matching, the update, the request's log line and "
            f"metrics) {part.get('route_function')}. The rest of the difference is the event "
            "handler's routing."
        )
    lines += [
        "",
        "## How each figure is measured",
        "",
        "- **`cold_import_own_share_<function>`** = cold import of functions/<function>/app.py / "
        "cold import of exactly the libraries that import loads. A fresh interpreter first records "
        "which third-party "
        "modules the handler's import loads (`sys.modules` diff, stdlib and our own `lift_alerts` left "
        "out); the floor is importing exactly those modules, in the same order. Each sample is one "
        "fresh `python -c` process measuring CPU time since its start (`time.process_time()`, "
        "interpreter start-up in both) once the libraries are imported, then once `import app` has "
        "finished on top of them; the figure is the median of the per-process ratios over "
        f"{ci['rounds']} interleaved rounds (load average {ci['load_average']}), with the environment "
        "Lambda gives a function (`LAMBDA_TASK_ROOT` set: the X-Ray SDK reads it at import) and "
        "bytecode for every module on both sides (bench/cold.py says why). The earlier method, two "
        "separate processes timed from the parent, is kept as a cross-check. Handler / libraries:",
        *cold_rows,
        "- **AWS calls**: botocore `before-call.*.*` hooks on the clients the code uses "
        "(`lift_alerts.platform.aws.client(...)`: dynamodb, events, sqs, secretsmanager), moto in-process, "
        "after a warm-up (the secret is read once and cached by Powertools, so it is not in the "
        "steady-state figures; warm-up: "
        f"{detail['warmup_calls']['by_operation']}).",
        f"  - `aws_calls_per_tap` = the **webhook function only**, one tap with context.id: "
        f"{detail['tap_webhook']['by_operation']} (the tap on its alert; the sender's 24-hour window, "
        "SPEC 5, is written by the follow-up function from the tap's stream record, outside the answer).",
        f"  - `aws_calls_per_tap_publisher_share` = the publisher's requests for that tap's stream records "
        f"(separate function, outbox pattern): {detail['tap_publisher']['by_operation']}. "
        "Up to 10 events share "
        "one PutEvents when records arrive together.",
        f"  - `aws_calls_per_status` (webhook only, one `delivered`): {detail['status']['by_operation']}.",
        f"  - `aws_calls_per_send_recipient` = marginal requests per extra recipient ((3-recipient send - "
        f"1-recipient send) / 2); `aws_calls_per_send_fixed` = the rest of a send. 1 recipient: "
        f"{detail['send_1_recipient']['by_operation']}; 3 recipients: "
        f"{detail['send_3_recipients']['by_operation']}.",
        "- **`webhook_overhead_ratio`** = CPU time (`time.process_time`, every thread of the process) of the "
        "whole webhook handler (`lambda_handler`: Powertools logger/tracer/metrics decorators, routing, "
        "authentication, parsing, matching, the conditional update, the request's one "
        "log line, the metrics flush) for one first tap as the Bridge forwards it "
        f"({st['body_bytes']} bytes, `Authorization: Bearer`), divided by the floor a tap cannot go below: "
        "`json.loads` of the body + the credential check the handler makes for that request (a "
        "constant-time compare of the token) + the tap's ONE conditional UpdateItem on its alert through "
        "the same botocore client (validate, serialise, SigV4-sign, parse). AWS answers instantly from "
        "moto's captured HTTP answers replayed by a `before-send` hook, for the handler and the floor "
        f"alike; {st['runs']} interleaved runs each after 50 warm-up runs, medians. The same with a "
        "Meta-style `X-Hub-Signature-256` (floor: HMAC-SHA256 of the body) is shown beside it:",
        *tap_rows,
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
        "stream reads by Lambda are free. WhatsApp's message fees are in the next table, not in this total.",
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
    fees = detail["message_fees"]
    rates = ", ".join(f"{kind} {rate}" for kind, rate in fees["rates_usd_za"].items())
    regimes = list(fees["regimes"])
    lines += [
        "",
        "### WhatsApp message fees beside the infrastructure (per 1000 alerts, +27 numbers)",
        "",
        f"Rates (USD per delivered message, effective {fees['rates_effective']}, checked "
        f"{fees['checked']}): {rates}. Source: {fees['source']}",
        "",
        "Until 2026-09-30 interactive and text messages were free inside the 24-hour window; from "
        "2026-10-01 they are charged at the utility rate (no monthly free allotment assumed: an upper "
        "bound). Messages per alert: one recipient, answered at the first round, plus the "
        "acknowledgement of the tap (SPEC 10, a text inside the window).",
        "",
        "| delivery | messages per alert | "
        + " | ".join(f"WhatsApp fees {regime} (USD)" for regime in regimes)
        + " | infrastructure (USD) |",
        "|---|---|" + "---|" * len(regimes) + "---|",
    ]
    for mode, m in fees["modes"].items():
        count = ", ".join(f"{n} {kind}" for kind, n in m["messages_per_alert"].items())
        shown = " | ".join(
            f"{m['whatsapp_fees_usd'][regime]:.2f} ({m['fees_to_infrastructure'][regime]}x infra)"
            for regime in regimes
        )
        lines.append(f"| {mode} | {count} | {shown} | {m['infrastructure_usd']:.5f} |")
    lines += [""] + [f"- `{mode}`: {m['describe']}." for mode, m in fees["modes"].items()]
    lines += _mass_section(mass or {})
    notes = Path(__file__).resolve().parent / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    path.write_text("\n".join(lines) + "\n")
