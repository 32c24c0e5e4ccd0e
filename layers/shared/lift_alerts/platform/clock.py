"""The time of day: the one place the service reads the system clock (a test, or a container
of the local stack's races, replaces it where it is imported). `domain.timestamps` formats it."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
