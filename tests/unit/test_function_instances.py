"""The emulator's function instances (local/lambda_runtime.py): a failed init is tried again."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.lambda_runtime import FunctionRuntime
from local.template import FunctionSpec

# Fails its first import (as an init that meets a fault would), then works.
APP = """
from pathlib import Path
_marker = Path(__file__).with_name("initialised-once")
if not _marker.exists():
    _marker.touch()
    raise RuntimeError("init failed")

def lambda_handler(event, context):
    return {"answer": event["question"] * 2}
"""


def test_an_instance_whose_init_failed_is_started_again_on_the_next_invoke(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    spec = FunctionSpec(
        logical_id="FlakyInitFunction",
        code_uri=tmp_path,
        handler="app.lambda_handler",
        timeout=1,
        memory_mb=128,
        runtime="python3.11",
        environment={},
        events=(),
    )
    runtime = FunctionRuntime(spec, function_name="flaky", region="af-south-1", account_id="123456789012")
    with pytest.raises(RuntimeError, match="init failed"):
        runtime.invoke({"question": 21})
    assert runtime.invoke({"question": 21}) == {"answer": 42}
