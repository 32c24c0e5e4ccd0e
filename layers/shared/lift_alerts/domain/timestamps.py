"""Time in the one format every response and event uses: ISO 8601, UTC, whole seconds, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_epoch(seconds: int) -> str:
    return iso(datetime.fromtimestamp(seconds, UTC))


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
