"""Cold start (issue 14): what a deployed function's import does, in a fresh interpreter with
the environment template.yaml gives that function, and what the cold-import bench compares.

No AWS call and no socket: the handlers create their clients on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bench import cold
from local.template import REPO_ROOT, Template

FUNCTIONS = Template.load().functions()

# Run in a fresh interpreter: count pydantic plugin scans (reads of every installed
# distribution's entry points) while the handler is imported, and list the modules it loaded.
_PROBE = """
import importlib.metadata, json, sys
scans = []
real = importlib.metadata.entry_points
def entry_points(*args, **kwargs):
    scans.append(kwargs.get("group"))
    return real(*args, **kwargs)
importlib.metadata.entry_points = entry_points
sys.path[:0] = [{layer!r}, {code!r}]
import app
print(json.dumps({{"scans": scans, "modules": sorted(sys.modules)}}))
"""


def _literal_environment(logical_id: str) -> dict[str, str]:
    """The function's environment variables that the template gives as plain values."""
    return {k: v for k, v in FUNCTIONS[logical_id].environment.items() if isinstance(v, str)}


def _import_handler(logical_id: str) -> dict[str, list[str]]:
    spec = FUNCTIONS[logical_id]
    env = cold._env(bytecode=False)
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)  # only what the template sets counts here
    env.update(_literal_environment(logical_id))
    code = _PROBE.format(layer=str(REPO_ROOT / "layers" / "shared"), code=str(spec.code_uri))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout
    result: dict[str, list[str]] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_no_cold_start_scans_installed_distributions_for_pydantic_plugins(logical_id: str) -> None:
    # pydantic looks for plugins in every distribution's entry points when it builds its first
    # model: cold-start time in every function that has a model, for plugins nobody installed.
    assert "pydantic" not in _import_handler(logical_id)["scans"]


def test_the_parked_function_loads_the_updates_it_decodes_not_the_whatsapp_payload_models() -> None:
    parked = next(logical_id for logical_id, spec in FUNCTIONS.items() if spec.code_uri.name == "parked")
    modules = _import_handler(parked)["modules"]
    assert "lift_alerts.domain.inbound" in modules
    assert "lift_alerts.domain.whatsapp_payloads" not in modules


def test_the_bench_runs_handlers_with_the_environment_the_template_sets_for_cold_start() -> None:
    for logical_id in FUNCTIONS:
        template_value = _literal_environment(logical_id)["PYDANTIC_DISABLE_PLUGINS"]
        assert template_value == cold.AWS_ENV["PYDANTIC_DISABLE_PLUGINS"]


def test_the_cold_bench_gives_each_function_its_paired_ratio_and_the_separate_process_cross_check() -> None:
    figures: dict[str, Any] = cold.measure(rounds=1, functions=("publisher",))
    seconds = figures["median_seconds"]
    # Both halves of a pair come from one process: the handler's import ends after its floor.
    assert seconds["publisher"] > seconds["publisher:libraries"] > 0
    floor_share = seconds["publisher"] / seconds["publisher:libraries"]
    assert figures["ratios"]["publisher"] == pytest.approx(floor_share, rel=1e-2)
    assert figures["separate_process_wall_ratios"]["publisher"] > 0
    assert {"boto3", "aws_lambda_powertools", "requests"} <= set(figures["libraries"]["publisher"])
