"""Timed steps' lateness over the local stack (SPEC §12): `python -m bench.lateness`.

The local stack runs with its sweep at the deployed period (`LOCAL_TIMER_SECONDS=60`, as
in AWS's `rate(1 minute)`), so a step that waits for the sweep is up to a minute late,
and only a wake-up of its own (an SQS message delayed until the step is due) runs it on
time. 50 alerts are created over HTTP within 20 s, one recipient each, whose steps fall
due at spread times over more than two minutes (`plan`):

- 45 with escalation, `after_seconds` spread over 25-75 s and `max_rounds` 2 (1 above
  48 s): reminder rounds, then the unanswered mark (due 25-162 s after the first alert);
- 5 answered Entrapment at once (a tap through the stand-in), with the stack's
  `CONFIRM_AFTER_SECONDS` 25 and `CONFIRM_MAX_ROUNDS` 2: the confirmation request, its
  reminders, then the confirmation-missed mark.

Every step's messages stay far below Woosh's 100 a minute (`plan_messages_per_window`), so
the send budget never makes a step late. The bench waits until every alert is done
(`unanswered`, or its confirmation missed), then reads the stack's log: the service logs
each step as `{"message": "timed step ran", "step": <kind>, "alert_id": ...,
"lateness_seconds": ...}` (`bench.stack_log`). Reported: `step_lateness_p99_seconds` and
`step_lateness_max_seconds` over every step (goals 2 s and 3 s), and count, p50, p99 and
max per kind (nearest-rank percentiles), into bench/results.json (`step_lateness`) with
bench/step_lateness.png. Exits non-zero when a goal was missed, and loudly when fewer than
50 alerts' steps were seen in the log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.load import LoadSampler
from bench.plots import LatenessChart, draw_lateness
from bench.stack_log import lateness_by_kind, summary, timed_steps
from local.process import StackProcess

OUT = Path(__file__).resolve().parent
RESULTS = OUT / "results.json"
PLOT = OUT / "step_lateness.png"
WORK = OUT / ".work"
KEY = "step_lateness"
GOALS = {"step_lateness_p99_seconds": 2.0, "step_lateness_max_seconds": 3.0}
ALERTS_NEEDED = 50
SWEEP_SECONDS = 60  # the deployed period of the escalation function's schedule
CONFIRM_AFTER_SECONDS = 25
CONFIRM_ROUNDS = 2
CREATE_EVERY_SECONDS = 0.4
TAP_AFTER_SECONDS = 1.0  # about when an entrapment tap follows its alert (for the plan only)
PER_MINUTE = 100  # Woosh's limit per API key


@dataclass(frozen=True)
class PlannedAlert:
    """One alert of the run: when it is created (seconds after the first), its escalation,
    or an Entrapment tap that starts the confirmation steps instead."""

    index: int
    created_at: float
    after_seconds: int
    max_rounds: int
    entrapment: bool

    def steps(self) -> list[tuple[str, float]]:
        """Its timed steps (kind, seconds after the first alert when due)."""
        if self.entrapment:
            asked = self.created_at + TAP_AFTER_SECONDS
            reminders = [
                ("confirmation_reminder", asked + k * CONFIRM_AFTER_SECONDS)
                for k in range(1, CONFIRM_ROUNDS + 1)
            ]
            missed = asked + (CONFIRM_ROUNDS + 1) * CONFIRM_AFTER_SECONDS
            return [("confirmation_request", asked), *reminders, ("confirmation_missed", missed)]
        rounds = [
            ("reminder", self.created_at + r * self.after_seconds) for r in range(1, self.max_rounds + 1)
        ]
        return [*rounds, ("unanswered", self.created_at + (self.max_rounds + 1) * self.after_seconds)]

    def messages(self) -> list[float]:
        """When it sends a message to Woosh (seconds after the first alert), steps on time: the
        alert; each reminder round and the critical message of the unanswered mark; or the
        tap's acknowledgement, the question, its reminders and the "follow up now" notice."""
        times = [self.created_at]
        for kind, due in self.steps():
            times.append(due)
            if kind == "confirmation_request":
                times.append(due)  # the acknowledgement of the tap
        return times

    def body(self) -> dict[str, Any]:
        """The POST /alerts body (escalation's `after_seconds` is ignored once it is answered)."""
        return {
            "ticket_id": f"LATE-{self.index:03d}",
            "lift_id": f"LIFT-{self.index:03d}",
            "site": "Timer bench",
            "floor": "1",
            "recipients": [phone(self.index)],
            "escalation": {"after_seconds": self.after_seconds, "max_rounds": self.max_rounds},
        }


def phone(index: int) -> str:
    return f"+2783{index:07d}"


def plan(alerts: int = ALERTS_NEEDED, *, entrapment_every: int = 10) -> list[PlannedAlert]:
    """`alerts` alerts created every 0.4 s; every `entrapment_every`-th (from the 5th) is
    answered Entrapment; the others' `after_seconds` run over 25-75 s in a scrambled order
    (37 and 51 share no factor, so `37 i mod 51` visits each offset once), with a second
    round when it keeps their last step within 2.5 minutes."""
    planned = []
    for i in range(alerts):
        after = 25 + (37 * i) % 51
        planned.append(
            PlannedAlert(
                index=i,
                created_at=round(i * CREATE_EVERY_SECONDS, 3),
                after_seconds=after,
                max_rounds=2 if after <= 48 else 1,
                entrapment=i % entrapment_every == entrapment_every // 2,
            )
        )
    return planned


def most_in_window(times: list[float], window: float = 60.0) -> int:
    """The most of `times` (seconds) that fall in any `window` seconds (pure)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def plan_messages_per_window(planned: list[PlannedAlert], window: float = 60.0) -> int:
    """The most messages the plan sends in any `window` seconds, steps on time (pure)."""
    return most_in_window([t for alert in planned for t in alert.messages()], window)


def figures(
    log_text: str, planned: list[PlannedAlert], alert_ids: dict[int, str], *, unfinished: int = 0
) -> dict[str, Any]:
    """The run's figures from the stack's log (pure)."""
    ours = set(alert_ids.values())
    steps, malformed = timed_steps(log_text, ours)
    every = [step.lateness_seconds for step in steps]
    by_kind = lateness_by_kind(steps)
    overall = summary(every)
    expected: dict[str, int] = {}
    for alert in planned:
        for kind, _due in alert.steps():
            expected[kind] = expected.get(kind, 0) + 1
    return {
        "step_lateness_p99_seconds": overall["p99"],
        "step_lateness_max_seconds": overall["max"],
        "step_lateness_p50_seconds": overall["p50"],
        "steps_seen": len(steps),
        "steps_expected": sum(expected.values()),
        "alerts": len(planned),
        "alerts_created": len(alert_ids),
        "alerts_with_steps": len({step.alert_id for step in steps}),
        "alerts_unfinished": unfinished,
        "malformed_lines": malformed,
        "by_kind": {
            kind: {**summary(values), "expected": expected.get(kind, 0)} for kind, values in by_kind.items()
        },
        "expected_by_kind": expected,
        "lateness_by_kind": by_kind,  # every step's lateness, for the plot (not kept in results.json)
    }


def met(result: dict[str, Any]) -> bool:
    return (
        all(result[name] is not None and result[name] <= goal for name, goal in GOALS.items())
        and result["alerts_with_steps"] >= ALERTS_NEEDED
    )


# ---------------------------------------------------------------- the run (local stack, HTTP)


def create(api: str, planned: list[PlannedAlert], log: Callable[[str], None]) -> dict[int, dict[str, Any]]:
    """POST every planned alert at its time (a few connections), answers by index."""
    began = time.monotonic()

    def post(alert: PlannedAlert) -> tuple[int, dict[str, Any]]:
        time.sleep(max(0.0, began + alert.created_at - time.monotonic()))
        response = requests.post(f"{api}/alerts", json=alert.body(), timeout=60)
        if response.status_code != 201:
            log(f"alert {alert.index}: POST answered {response.status_code} {response.text[:200]}")
            return alert.index, {}
        return alert.index, dict(response.json())

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="create") as pool:
        return {index: answer for index, answer in pool.map(post, planned) if answer}


def tap_entrapment(woosh: str, message_id: str) -> int:
    """Tap Entrapment on the message, as its recipient would (the stand-in posts the webhook)."""
    sent = requests.get(f"{woosh}/_sent", timeout=30).json()
    message = next(m for m in sent if m.get("message_id") == message_id)
    titles = [button[1] for button in message.get("buttons") or []]
    tapped = requests.post(
        f"{woosh}/_tap",
        json={"message_id": message_id, "choice_index": titles.index("Entrapment")},
        timeout=30,
    ).json()
    return int(tapped.get("status", 0))


def first_message_id(api: str, alert_id: str, answer: dict[str, Any], timeout: float = 30.0) -> str | None:
    """The alert's message id: from the POST's answer, or once GET shows it (it was queued)."""
    for line in answer.get("messages", []):
        if line.get("message_id"):
            return str(line["message_id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in requests.get(f"{api}/alerts/{alert_id}", timeout=30).json().get("recipients", []):
            if line.get("message_id"):
                return str(line["message_id"])
        time.sleep(0.5)
    return None


def done(view: dict[str, Any], alert: PlannedAlert) -> bool:
    """Every step of the alert has run: its unanswered mark, or its confirmation was missed."""
    if alert.entrapment:
        return bool((view.get("confirmation") or {}).get("missed_at"))
    return view.get("state") == "unanswered"


def unfinished(api: str, planned: list[PlannedAlert], alert_ids: dict[int, str]) -> list[int]:
    def check(alert: PlannedAlert) -> int | None:
        alert_id = alert_ids.get(alert.index)
        if alert_id is None:
            return None  # never created: counted apart
        view = requests.get(f"{api}/alerts/{alert_id}", timeout=30).json()
        return None if done(view, alert) else alert.index

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [index for index in pool.map(check, planned) if index is not None]


def wake_up_queues(info: dict[str, Any]) -> list[str]:
    """The template's queues that look like wake-up queues (SPEC §12), as the stack made them:
    with none, the sweep alone runs timed steps."""
    types = (info.get("resources") or {}).get("types") or {}
    return sorted(
        name
        for name, kind in types.items()
        if kind == "AWS::SQS::Queue"
        and any(w in name.lower() for w in ("timer", "wake", "step"))
        and "dlq" not in name.lower()
    )


def run_lateness(*, log: Callable[[str], None] = print, stack_log: Path | None = None) -> dict[str, Any]:
    planned = plan()
    began = time.monotonic()
    env = {
        "LOCAL_TIMER_SECONDS": str(SWEEP_SECONDS),  # the deployed sweep, never a faster one
        "CONFIRM_AFTER_SECONDS": str(CONFIRM_AFTER_SECONDS),
        "CONFIRM_MAX_ROUNDS": str(CONFIRM_ROUNDS),
        "LOG_LEVEL": "INFO",  # "timed step ran" is an INFO line
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    last_due = max(due for alert in planned for _kind, due in alert.steps())
    timeout = last_due + 2 * SWEEP_SECONDS + 30
    with (
        StackProcess(env=env, log_path=stack_log or WORK / "lateness_stack.log") as stack,
        LoadSampler() as load,
    ):
        api, woosh = stack.info["api_url"], stack.info["woosh_url"]
        queues = wake_up_queues(stack.info)
        log(
            f"stack up in {time.monotonic() - began:.1f}s (wake-up queues: {queues or 'none'}); creating "
            f"{len(planned)} alerts, steps due over {last_due:.0f}s, sweep every {SWEEP_SECONDS}s"
        )
        answers = create(api, planned, log)
        created = time.monotonic()
        alert_ids = {index: str(answer["alert_id"]) for index, answer in answers.items()}
        taps = []
        for alert in planned:
            if alert.entrapment and alert.index in answers:
                message_id = first_message_id(api, alert_ids[alert.index], answers[alert.index])
                taps.append(tap_entrapment(woosh, message_id) if message_id else 0)
        log(f"created {len(alert_ids)} alerts; entrapment taps answered {taps}; waiting up to {timeout:.0f}s")
        left: list[int] = []
        deadline = created + timeout
        while time.monotonic() < deadline:
            left = unfinished(api, planned, alert_ids)
            if not left:
                break
            time.sleep(5.0)
        time.sleep(1.0)  # the last step's log line
        stats = requests.get(f"{woosh}/_stats", timeout=10).json()
        sent = requests.get(f"{woosh}/_sent", timeout=30).json()
        log_text = stack.log_text()
    result = figures(log_text, planned, alert_ids, unfinished=len(left))
    accepted = sorted(float(m["received_at"]) for m in sent if m.get("status_code") == 200)
    result.update(
        {
            "sweep_seconds": SWEEP_SECONDS,
            "confirm_after_seconds": CONFIRM_AFTER_SECONDS,
            "confirm_max_rounds": CONFIRM_ROUNDS,
            "entrapment_taps": len(taps),
            "steps_due_over_seconds": round(last_due - min(d for a in planned for _k, d in a.steps()), 1),
            "planned_most_messages_per_minute": plan_messages_per_window(planned),
            "woosh_most_accepted_per_minute": most_in_window(accepted),
            "woosh_rate_limited": int(stats.get("rate_limited", 0)),
            "wake_up_queues": queues,
            "run_seconds": round(time.monotonic() - began, 1),
            **load.report(),
        }
    )
    return result


def merge_results(result: dict[str, Any], path: Path = RESULTS) -> None:
    current: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    current[KEY] = result
    path.write_text(json.dumps(current, indent=2, default=str) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json and the plot")
    args = parser.parse_args(argv)
    result = run_lateness()
    by_kind = result.pop("lateness_by_kind")
    if not args.no_write:
        queues = result["wake_up_queues"]
        wake_ups = f"wake-ups on {', '.join(queues)}" if queues else "no wake-up queue"
        title = (
            f"Timed steps over the local stack: lateness per kind ({result['steps_seen']} steps of "
            f"{result['alerts_with_steps']} alerts; sweep every {SWEEP_SECONDS} s, "
            f"{wake_ups})\n"
            f"p99 {result['step_lateness_p99_seconds']} s (goal {GOALS['step_lateness_p99_seconds']:g}), "
            f"max {result['step_lateness_max_seconds']} s (goal {GOALS['step_lateness_max_seconds']:g})"
        )
        draw_lateness(LatenessChart(title, by_kind, summaries=result["by_kind"]), PLOT)
        result["plot"] = PLOT.name
        merge_results(result)
    print(json.dumps(result, indent=2))
    if result["alerts_with_steps"] < ALERTS_NEEDED:
        print(
            f"\nFAILED: the stack's log shows timed steps of only {result['alerts_with_steps']} of the "
            f"{result['alerts']} alerts (at least {ALERTS_NEEDED} needed; {result['steps_seen']} of "
            f"{result['steps_expected']} steps, {result['malformed_lines']} malformed lines): see "
            f"{WORK / 'lateness_stack.log'}",
            file=sys.stderr,
        )
        return 1
    ok = met(result)
    print("every goal met" if ok else "goals NOT met", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
