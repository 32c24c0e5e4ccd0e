"""Cold import: a handler's import vs importing exactly the libraries that import loads.

For each functions/<name>/app.py a fresh interpreter first records which third-party modules
the handler's import actually loads (a `sys.modules` diff, in load order). The floor for that
function is importing exactly those modules, in that order, and nothing of ours. Every sample
is a new `python -c` process with the environment Lambda gives a function (`LAMBDA_TASK_ROOT`
included), run interleaved with the other functions' (reversed every other round); medians.

The ratio is measured in pairs inside one process: CPU time (`time.process_time()`, which
counts from the process's start, so interpreter start-up is in both) once the libraries are
imported (the floor) and once `import app` has finished on top of them (the handler's cold
import: the same libraries plus our modules and whatever stdlib they add). Both halves of a
pair share the process, the core and the moment, so the machine's noise largely cancels; the
median of the per-pair ratios is reported. Comparing two separate processes instead (wall
time from the parent, the method of earlier runs, still measured as a cross-check) divides
two ~0.4 s figures whose spread on this shared VM is ±30 %: the same code measured 1.11 and
1.65 in two runs. Interpreter exit is in neither figure: Lambda's INIT ends with the import.

Both sides load bytecode. The libraries were byte-compiled by pip at install; our modules
were not (`PYTHONDONTWRITEBYTECODE` is set in this environment), so earlier runs charged
every handler sample for compiling lift_alerts from source while the floor compiled nothing.
Samples therefore run with a pycache prefix of the bench's own (bench/.work, not in git) that
the discovery and warm-up runs fill for every module, ours and the libraries' alike.
`bytecode=False` measures the old, one-sided way.
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

PYCACHE = ROOT / "bench" / ".work" / "pycache"

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
    # template.yaml sets it for every function: no scan of installed distributions for plugins.
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
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


# The paired sample: floor, then the handler's import on top of it, in one process.
_PAIRED = (
    _FLOOR
    + """
import time
libraries = time.process_time()
sys.path[:0] = [{layer!r}, {code!r}]
import app
handler = time.process_time()
print(libraries, handler)
"""
)


def _handler_code(function: str) -> str:
    return (
        "import sys; "
        f"sys.path[:0] = [{str(ROOT / 'layers' / 'shared')!r}, {str(ROOT / 'functions' / function)!r}]; "
        "import app"
    )


def _env(*, bytecode: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PYTHONPATH", None)
    env.update(AWS_ENV)
    if bytecode:
        # Written on first import, read by every later process: nobody compiles in a sample.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def _run(code: str, env: dict[str, str]) -> float:
    """Wall seconds of one fresh interpreter running `code`, seen from here."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _paired(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(floor, handler) CPU seconds since process start, from one paired sample."""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout
    libraries, handler = out.split()
    return float(libraries), float(handler)


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


def measure(
    rounds: int = 11,
    functions: tuple[str, ...] = FUNCTIONS,
    *,
    bytecode: bool = True,
    cross_check: bool = True,
) -> dict[str, object]:
    env = _env(bytecode=bytecode)
    libraries = {f: libraries_loaded(f, env) for f in functions}
    paired = {
        f: _PAIRED.format(
            modules=libraries[f], layer=str(ROOT / "layers" / "shared"), code=str(ROOT / "functions" / f)
        )
        for f in functions
    }
    separate: dict[str, str] = {}
    if cross_check:
        for f in functions:
            separate[f"{f}:libraries"] = _FLOOR.format(modules=libraries[f])
            separate[f"{f}:handler"] = _handler_code(f)
    # One untimed run of each: the OS page cache and the .pyc files are warm before the first
    # timed sample (the discovery runs above already imported every module once).
    for f in functions:
        _paired(paired[f], env)
    for code in separate.values():
        _run(code, env)
    pairs: dict[str, list[tuple[float, float]]] = {f: [] for f in functions}
    wall: dict[str, list[float]] = {name: [] for name in separate}
    names = [*pairs, *separate]
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else reversed(names):
            if name in separate:
                wall[name].append(_run(separate[name], env))
            else:
                pairs[name].append(_paired(paired[name], env))
    median = statistics.median
    seconds: dict[str, float] = {}
    for f, samples in pairs.items():
        seconds[f] = median(handler for _, handler in samples)
        seconds[f"{f}:libraries"] = median(floor for floor, _ in samples)
    walls = {name: median(values) for name, values in wall.items()}
    return {
        "rounds": rounds,
        "bytecode": bytecode,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "median_seconds": {k: round(v, 4) for k, v in seconds.items()},
        "ratios": {f: median(handler / floor for floor, handler in pairs[f]) for f in functions},
        "own_import_ms": {f: round(median(h - fl for fl, h in pairs[f]) * 1000, 1) for f in functions},
        "separate_process_wall_ratios": {
            f: round(walls[f"{f}:handler"] / walls[f"{f}:libraries"], 3) for f in functions if separate
        },
        "libraries": {f: sorted({m.split(".")[0] for m in mods}) for f, mods in libraries.items()},
        "library_modules": {f: len(mods) for f, mods in libraries.items()},
    }
