"""The functions' log lines as tests read them: one JSON object per line (Powertools' format)."""

from __future__ import annotations

import json
from typing import Any


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines in `text` (other output, such as Powertools' metrics blobs, may sit between)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def request_lines(logged: str, printed: str) -> list[dict[str, Any]]:
    """Every line a request wrote: the logger's (`logged`) and its metrics document (`printed`,
    where `observability.request_summary` puts the request's summary line), in that order."""
    return log_lines(logged) + log_lines(printed)


def info_lines(logged: str, printed: str) -> list[dict[str, Any]]:
    """The INFO lines of a request, its summary line among them."""
    return [line for line in request_lines(logged, printed) if line.get("level") == "INFO"]
