"""Webhook bodies recorded from the real WhatsApp Cloud API / Woosh Bridge (tests/robustness/samples)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.harness import ROOT

REAL_WORLD = ROOT / "tests" / "robustness" / "samples" / "real-world"


def real_world_bodies() -> list[tuple[str, dict[str, Any]]]:
    """("<file>:<name>", body) for every recorded body, in file and name order."""
    found = []
    for path in sorted(REAL_WORLD.glob("*.json")):
        for name, body in json.loads(path.read_text()).items():
            found.append((f"{path.stem}:{name}", body))
    return found
