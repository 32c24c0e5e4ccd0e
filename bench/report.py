"""bench/RESULTS.md from the figures of one run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench import cost

BASELINE = Path(__file__).resolve().parent / "baseline.json"


def _ok(key: str, value: float, goals: dict[str, float]) -> str:
    if key not in goals:
        return "-"
    return "met" if value <= goals[key] else "NOT met"


MASS_GOALS = {"mass_alarm_first_reach_ratio": 1.15, "mass_alarm_all_sent_ratio": 1.10}
MASS_ZERO = (
    "mass_alarm_rate_limited",
    "mass_alarm_lost",
    "mass_alarm_doubled",
    "mass_alarm_unfinished",
    "mass_alarm_slots_lost",
)


def _verdict(figure: str, value: Any) -> tuple[str, str]:
    """The goal of a mass-alarm figure and whether `value` meets it."""
    if figure in MASS_GOALS:
        ok = isinstance(value, int | float) and value <= MASS_GOALS[figure]
        return f"≤ {MASS_GOALS[figure]}", "met" if ok else "NOT met"
    return "= 0", "met" if value == 0 else "NOT met"


def _mass_runs_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| run | beside it | load average (start / mean / max) | first reach | all sent | 429 | lost "
        "| doubled | unfinished | slots lost | slots given back | series restarts that skipped time "
        "| first message | firsts' span | per minute "
        "| run time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate(runs, start=1):
        r = run.get
        beside = f"CPU hog on core {r('hog_core')}" if r("cpu_hog") else "no hog"
        lines.append(
            f"| {number} | {beside} | {r('load_start')} / {r('load_mean')} / {r('load_max')} "
            f"| {r('mass_alarm_first_reach_ratio')} | {r('mass_alarm_all_sent_ratio')} "
            f"| {r('mass_alarm_rate_limited')} | {r('mass_alarm_lost')} | {r('mass_alarm_doubled')} "
            f"| {r('mass_alarm_unfinished')} | {r('mass_alarm_slots_lost')} | {r('slots_given_back')} "
            f"| {r('series_skipped_lines')} ({r('series_skipped_ms')} ms) "
            f"| {r('first_accepted_seconds')} s | {r('firsts_span_seconds')} s | {r('accepted_per_window')} "
            f"| {r('run_seconds')} s |"
        )
    return lines


def _mass_section(mass: dict[str, Any]) -> list[str]:
    """The mass-alarm runs' figures (SPEC §11), from their own keys in results.json."""
    lines: list[str] = []
    for key, result in mass.items():
        if not isinstance(result, dict):
            continue
        runs = [run for run in result.get("runs", []) if isinstance(run, dict)] or [result]
        first = runs[0].get
        spread = float(first("spread_seconds") or 0)
        posted = f"posted evenly over {spread:g} s" if spread else "posted all at once"
        stress = bool(result.get("report_only"))
        hogged = [n for n, run in enumerate(runs, start=1) if run.get("cpu_hog")]
        how = (
            f"{len(runs)} runs, run {', '.join(map(str, hogged))} beside a CPU hog (a busy loop pinned to "
            "one of the two cores, from the warm-up to the end); each figure's headline is its worst over "
            "the runs (SPEC §11: the ratios hold on a busy machine as on a quiet one)"
            if len(runs) > 1
            else "one run"
        )
        lines += [
            "",
            f"## Mass alarms (`{key}`: `python -m bench.mass`, run by `make bench`)",
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
            f"{first('alarms')} alarms x {first('recipients')} recipients {posted} over HTTP to the local "
            f"stack ({first('connections')} POSTs in flight), Woosh's limits scaled in time "
            f"x{first('time_scale')} for the stand-in and the send budget together; {how}. Send slots are "
            "counted from the stack's log: `send slots lost` (WARNING) and `send slots given back` (INFO) "
            "lines, by their `slots`; beside them, for information, new send series that replaced one "
            "whose next slot was still ahead (`send series started` with `skipped_ms`): capacity skipped "
            "without a slot being taken, which `send slots lost` does not count.",
            "",
            f"| figure | {'worst of ' + str(len(runs)) if len(runs) > 1 else 'this run'} | goal | |",
            "|---|---|---|---|",
        ]
        for figure in (*MASS_GOALS, *MASS_ZERO):
            value = result.get(figure)
            goal, verdict = _verdict(figure, value)
            if stress:
                lines.append(f"| `{figure}` | {value} | ({goal} above) | stress run: no goal |")
            else:
                lines.append(f"| `{figure}` | {value} | {goal} | {verdict} |")
        lines += ["", *_mass_runs_table(runs)]
        if result.get("plot"):
            lines += ["", f"![{key}]({result['plot']})"]
        lines += [
            "",
            f"Run 1: first reach {first('first_reach_seconds')} s against the floor "
            f"{first('first_reach_floor_seconds')} s; all sent {first('all_sent_seconds')} s against "
            f"{first('all_sent_floor_seconds')} s; of the first {first('alarms')} messages Woosh accepted, "
            f"{first('mass_alarm_firsts_in_first_n')} went to an alarm's first recipient. Posting all alarms "
            f"took {first('posting_seconds')} s (POST median {first('post_median_seconds')} s, max "
            f"{first('post_max_seconds')} s): the local stack's own speed on this machine, which the "
            "first-reach floor does not allow for. The first message goes after the posts' work up to "
            "the first reservation plus the series' head; the first recipients' slots then take the "
            f"schedule, where the floor counts 9.9 s: the budget's guard ({first('guard_ms')} ms) is added "
            "to every window of 10.",
        ]
    return lines


LATENESS_GOALS = {"step_lateness_p99_seconds": 2.0, "step_lateness_max_seconds": 3.0}


def _lateness_section(late: dict[str, Any] | None) -> list[str]:
    """The timed steps' lateness (SPEC §12), from `step_lateness` in results.json."""
    if not late:
        return []
    r = late.get
    lines = [
        "",
        "## Timed steps on time (`step_lateness`: `python -m bench.lateness`)",
        "",
        f"{r('alerts')} alerts created over HTTP on the local stack within 20 s, one recipient each, their "
        f"steps due over {r('steps_due_over_seconds')} s: 45 with escalation (`after_seconds` 25-75, "
        "`max_rounds` 1 or 2: reminder rounds, then the unanswered mark) and 5 tapped Entrapment at once "
        f"(`CONFIRM_AFTER_SECONDS` {r('confirm_after_seconds')}, `CONFIRM_MAX_ROUNDS` "
        f"{r('confirm_max_rounds')}: the confirmation request, reminders, the missed mark). The sweep "
        f"runs at the deployed period (`LOCAL_TIMER_SECONDS` {r('sweep_seconds')}). Lateness is what the "
        'service logs for each step (`"timed step ran"`, `lateness_seconds`: from its due time to its first '
        "send that reached Woosh, or its mark); percentiles are nearest-rank (p99 of fewer than 100 "
        f"steps is their maximum). Wake-up queues in the local stack: {r('wake_up_queues') or 'none'}. "
        f"Load average during the run (start / mean / max): {r('load_start')} / {r('load_mean')} / "
        f"{r('load_max')}; {r('run_seconds')} s.",
        "",
        "| figure | this run | goal | |",
        "|---|---|---|---|",
    ]
    for figure, goal in LATENESS_GOALS.items():
        value = r(figure)
        ok = value is not None and value <= goal
        lines.append(f"| `{figure}` | {value} | ≤ {goal:g} | {'met' if ok else 'NOT met'} |")
    lines += [
        "",
        "| kind of step | steps seen / expected | p50 (s) | p99 (s) | max (s) |",
        "|---|---|---|---|---|",
    ]
    for kind, k in (r("by_kind") or {}).items():
        lines.append(
            f"| {kind} | {k['count']} / {k.get('expected', '?')} | {k['p50']} | {k['p99']} | {k['max']} |"
        )
    lines += [
        "",
        f"Steps seen {r('steps_seen')} of {r('steps_expected')} expected, for {r('alerts_with_steps')} of "
        f"{r('alerts')} alerts ({r('alerts_unfinished')} not done when the wait ended; "
        f"{r('malformed_lines')} malformed step lines). Messages: at most "
        f"{r('planned_most_messages_per_minute')} in any minute as planned, "
        f"{r('woosh_most_accepted_per_minute')} accepted by Woosh in the busiest minute, "
        f"{r('woosh_rate_limited')} x 429"
        + (
            ": Woosh's limit (100 a minute) was not what made a step late."
            if r("woosh_rate_limited") == 0 and (r("woosh_most_accepted_per_minute") or 0) < 100
            else ": the send budget was full at times, which delays a step's first send."
        ),
    ]
    if r("plot"):
        lines += ["", f"![step lateness]({r('plot')})"]
    return lines


def _glance(
    results: dict[str, Any], goals: dict[str, float], mass: dict[str, Any], late: dict[str, Any] | None
) -> list[str]:
    """Every figure with a goal, from every benchmark of the run, met or not."""
    rows = ["## Every goal at a glance", "", "| figure | this run | goal | |", "|---|---|---|---|"]
    headline = mass.get("mass_alarm") or {}
    runs = len(headline.get("runs") or [None])
    for figure in (*MASS_GOALS, *MASS_ZERO):
        if figure in headline:
            goal, verdict = _verdict(figure, headline[figure])
            rows.append(f"| `{figure}` (worst of {runs} runs) | {headline[figure]} | {goal} | {verdict} |")
    for figure, goal in LATENESS_GOALS.items():
        if late and figure in late:
            value = late[figure]
            ok = value is not None and value <= goal
            rows.append(f"| `{figure}` | {value} | ≤ {goal:g} | {'met' if ok else 'NOT met'} |")
    for figure, goal in goals.items():
        if figure in results:
            rows.append(
                f"| `{figure}` | {results[figure]} | ≤ {goal:g} | {_ok(figure, results[figure], goals)} |"
            )
    return [*rows, ""]


def _own_share_rows(st: dict[str, Any]) -> list[str]:
    own = st.get("own_share") or {}
    if not own:
        return []
    rows = [
        "- **`webhook_own_share`** = CPU time of the whole webhook handler for that tap / CPU time of a "
        "minimal Powertools app doing the tap's work (bench/webhook_floor.py: the same "
        "`APIGatewayHttpResolver`, the same three decorators `logger.inject_lambda_context`, "
        "`tracer.capture_lambda_handler`, `metrics.log_metrics`, the bearer check with "
        "`hmac.compare_digest`, `json_body`, the button id read, and ONE UpdateItem of the tap through the "
        "same client, answered by the same replay hook). What our code costs over Powertools and boto3 as "
        f"the team uses them. Timed round robin with the handler, the bare floor above and the same app "
        f"plus one INFO line and one metric, {st['runs']} runs each, {len(own['repeats'])} times, the last "
        f"beside a CPU hog on one core; the figure is the median: **{own['webhook_own_share']}** (spread "
        f"{own['min']}-{own['max']}); against the app with a log line and a metric "
        f"{own['vs_observed_floor_median']}; against the bare floor {own['overhead_ratio_median']}.",
        "",
        "  | repeat | beside it | load average | handler (ms) | Powertools floor (ms) "
        "| + line and metric (ms) | bare floor (ms) | own share | vs + line and metric | vs bare floor |",
        "  |---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, rep in enumerate(own["repeats"], start=1):
        rows.append(
            f"  | {n} | {'CPU hog' if rep['cpu_hog'] else 'no hog'} | {rep['load_average']} "
            f"| {rep['handler_ms']} | {rep['powertools_floor_ms']} | {rep['observed_floor_ms']} "
            f"| {rep['bare_floor_ms']} "
            f"| {rep['own_share']} | {rep['own_share_vs_observed_floor']} | {rep['overhead_ratio']} |"
        )
    return [*rows, ""]


def write_markdown(
    path: Path,
    results: dict[str, Any],
    detail: dict[str, Any],
    goals: dict[str, float],
    *,
    mass: dict[str, Any] | None = None,
    lateness: dict[str, Any] | None = None,
) -> None:
    c = detail["cost"]
    total = detail.get("make_bench_seconds")
    lines = [
        "# Benchmarks (issues 7, 14 and 22)",
        "",
        "Written by `make bench`"
        + (f" in {total} s ({total / 60:.1f} min) in all, of which" if total else "")
        + f" `python -m bench.run` {detail['bench_seconds']} s, on Python {detail['python']} "
        f"({detail['machine']}, {os.cpu_count()} cores shared with other engineers' test runs; 1-minute load "
        f"average when this was written: {detail.get('load_average')}). Every ratio's numerator and floor "
        "were measured side by side in this same run.",
        "",
        "Plots: [`mass_alarm.png`](mass_alarm.png) (the mass alarm, three runs), "
        "[`mass_alarm_at_once.png`](mass_alarm_at_once.png) (all at once, stress), "
        "[`step_lateness.png`](step_lateness.png) (timed steps' lateness per kind).",
        "",
        *_glance(results, goals, mass or {}, lateness),
        "## Figures of `python -m bench.run`",
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
        if isinstance(v, dict) and kind not in ("layers", "own_share")
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
        "- **`webhook_overhead_ratio`** (no goal since issue 22: `webhook_own_share` below carries it) = "
        "CPU time (`time.process_time`, every thread of the process) of the "
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
        *_own_share_rows(st),
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
    lines += _lateness_section(lateness)
    notes = Path(__file__).resolve().parent / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    """Write RESULTS.md again from results.json (`python -m bench.report`), e.g. after a change
    of this module, without measuring anything."""
    from bench.run import GOALS, OUT

    data = json.loads((OUT / "results.json").read_text(encoding="utf-8"))
    results = {k: v for k, v in data.items() if not isinstance(v, dict)}
    mass = {k: v for k, v in data.items() if k.startswith("mass_alarm")}
    write_markdown(
        OUT / "RESULTS.md", results, data["detail"], GOALS, mass=mass, lateness=data.get("step_lateness")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
