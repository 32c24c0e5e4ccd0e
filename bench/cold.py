"""Cold import: a handler's import vs importing exactly the libraries that import loads.

For each functions/<name>/app.py a fresh interpreter first records which third-party modules
the handler's import actually loads (a `sys.modules` diff, in load order). The floor for that
function is a fresh interpreter importing exactly those modules and nothing of ours. Every
sample is one new `python -c` process (wall time measured from the parent, so interpreter
start-up is in both numerator and floor), with the environment Lambda gives a function
(`LAMBDA_TASK_ROOT` included). Runs are interleaved (floor, handler, next function...,
reversed every other round) so machine noise hits every variant alike; medians are compared.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = tuple(sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py")))
OWN_TOP_LEVEL = {"lift_alerts", "app"}
# Entries in sys.modules that are not importable modules (Cython registers this one itself).
NOT_MODULES = {"cython_runtime"}

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

# Run in a fresh interpreter: import the handler, print the third-party modules it loaded.
_DISCOVER = """
import json, sys
before = set(sys.modules)
sys.path[:0] = [{layer!r}, {code!r}]
import app
own = {own!r} | {not_modules!r}
std = sys.stdlib_module_names
loaded = [m for m in sys.modules if m not in before]
print(json.dumps([m for m in loaded if m.split('.')[0] not in std and m.split('.')[0] not in own
                  and not m.split('.')[0].startswith('_')]))
"""

# The floor: import exactly those modules, in the order the handler's import loaded them
# (most are loaded by an earlier parent already; the few that cannot be imported by name,
# such as aliases a package registers itself, are loaded by that package anyway).
_FLOOR = """
import importlib, sys
for name in {modules!r}:
    if name not in sys.modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
"""


def _handler_code(function: str) -> str:
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


def libraries_loaded(function: str, env: dict[str, str]) -> list[str]:
    """Third-party modules functions/<function>/app.py loads when imported, in load order."""
    code = _DISCOVER.format(
        layer=str(ROOT / "layers" / "shared"),
        code=str(ROOT / "functions" / function),
        own=OWN_TOP_LEVEL,
        not_modules=NOT_MODULES,
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def measure(rounds: int = 7, functions: tuple[str, ...] = FUNCTIONS) -> dict[str, object]:
    env = _env()
    libraries = {f: libraries_loaded(f, env) for f in functions}
    codes: dict[str, str] = {}
    for f in functions:
        codes[f"{f}:libraries"] = _FLOOR.format(modules=libraries[f])
        codes[f] = _handler_code(f)
    names = list(codes)
    samples: dict[str, list[float]] = {name: [] for name in names}
    # The discovery runs above imported every module once: the OS page cache and the .pyc
    # files are warm before the first timed sample.
    for round_no in range(rounds):
        order = names if round_no % 2 == 0 else list(reversed(names))
        for name in order:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", codes[name]], env=env, check=True, cwd=ROOT)
            samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "rounds": rounds,
        "median_seconds": {k: round(v, 4) for k, v in medians.items()},
        "ratios": {f: medians[f] / medians[f"{f}:libraries"] for f in functions},
        "libraries": {f: sorted({m.split(".")[0] for m in mods}) for f, mods in libraries.items()},
        "library_modules": {f: len(mods) for f, mods in libraries.items()},
    }
