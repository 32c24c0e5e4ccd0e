"""Cold import: fresh interpreters importing a handler module vs `import boto3` alone.

Each sample is one new `python -c` process (wall time measured from the parent, so
interpreter start-up is included in both numerator and floor). Runs are interleaved
(boto3, send, webhook, boto3, ...) so machine noise hits every variant alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

AWS_ENV = {
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "ALERTS_TABLE": "lift-alerts-bench",
    "EVENT_BUS_NAME": "lift-alerts-bench-bus",
    "APP_SECRET_ID": "lift-alerts-bench-secret",
    "POWERTOOLS_SERVICE_NAME": "lift-alerts",
    "POWERTOOLS_METRICS_NAMESPACE": "LiftAlerts",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    # Lambda sets it in every execution environment; the X-Ray SDK (Powertools' Tracer) reads it
    # at import to pick its Lambda mode. Without it the SDK builds a centralised sampler with
    # its own botocore session and X-Ray client (~0.15 s) that a Lambda function never builds.
    "LAMBDA_TASK_ROOT": "/var/task",
}


def _code(function: str | None) -> str:
    if function is None:
        return "import boto3"
    return (
        "import sys; "
        f"sys.path[:0] = [{str(ROOT / 'layers' / 'shared')!r}, {str(ROOT / 'functions' / function)!r}]; "
        "import app"
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PYTHONPATH", None)
    env.update(AWS_ENV)
    return env


# What the handlers' import time is made of (same fresh-interpreter method, same run).
BREAKDOWN = {
    "boto3+xray_sdk": "import boto3, aws_xray_sdk.core",
    "boto3+powertools_without_tracer+pydantic": (
        "import boto3, pydantic, aws_lambda_powertools.logging, aws_lambda_powertools.metrics, "
        "aws_lambda_powertools.event_handler"
    ),
}


def measure(
    rounds: int = 15, functions: tuple[str, ...] = ("send", "webhook"), breakdown: bool = True
) -> dict[str, object]:
    env = _env()
    codes = {"boto3": _code(None), **{f: _code(f) for f in functions}, **(BREAKDOWN if breakdown else {})}
    names = list(codes)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm the OS page cache once, untimed
        subprocess.run([sys.executable, "-c", codes[name]], env=env, check=True, cwd=ROOT)
    for round_no in range(rounds):
        order = names if round_no % 2 == 0 else list(reversed(names))
        for name in order:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", codes[name]], env=env, check=True, cwd=ROOT)
            samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "rounds": rounds,
        "median_seconds": medians,
        "ratios": {f: medians[f] / medians["boto3"] for f in functions},
    }
