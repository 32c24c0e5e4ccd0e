"""The functions' log lines as tests read them: one JSON object per line (Powertools' format)."""

from __future__ import annotations

import json
from typing import Any


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines in `text` (other output, such as Powertools' metrics blobs, may sit between)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
