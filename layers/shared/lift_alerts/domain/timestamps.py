"""Time in the one format every response and event uses: ISO 8601, UTC, whole seconds, `Z`."""

from __future__ import annotations

import time
from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The first second of year 10000: datetime (and so `iso`) cannot write a later one.
_END_OF_YEAR_9999 = 253_402_300_800


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def iso_from_epoch(seconds: int) -> str:
    """Unix seconds as `iso` writes them. Written from the seconds directly where datetime could
    write them too (every WhatsApp tap and status carries one: no datetime object per update);
    otherwise through datetime, which raises as it always did for a time it cannot write."""
    if isinstance(seconds, int) and 0 <= seconds < _END_OF_YEAR_9999:
        return time.strftime(ISO_FORMAT, time.gmtime(seconds))
    return iso(datetime.fromtimestamp(seconds, UTC))


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
