"""Every file in events/ invokes its function (moto in-process) with the status events/expected.json names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lift_alerts.platform.config import reset_caches
from local.invoke import Invoker, in_process_invoker
from local.make_events import EVENTS_DIR

EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS_DIR / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def invoker() -> Iterator[Invoker]:
    reset_caches()
    with in_process_invoker() as invoker:
        yield invoker
    reset_caches()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_file_invokes_with_expected_status(invoker: Invoker, name: str) -> None:
    spec = EXPECTED[name]
    event = json.loads((EVENTS_DIR / name).read_text())

    result = invoker.invoke(spec["function"], event)

    if spec["status"] is None:
        assert isinstance(result, dict)
    else:
        assert result["statusCode"] == spec["status"], result.get("body")
