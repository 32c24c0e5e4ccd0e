"""Reading a local stack's log (local/process.py) when a test over it fails."""

from __future__ import annotations

from local.apigw import CRASH_PREFIX, CRASH_SUFFIX

MAX_SHOWN = 4
MAX_LINES = 80


def crashes(log: str) -> str:
    """The last few tracebacks the local API logged for handlers that raised (`local/apigw.py`
    prints `[local api] <Function> raised:` and the traceback), each up to the next log record
    (a JSON line or another `[local ...]` line)."""
    blocks: list[list[str]] = []
    inside = False
    for line in log.splitlines():
        if line.startswith(CRASH_PREFIX) and line.rstrip().endswith(CRASH_SUFFIX):
            blocks.append([line])
            inside = True
        elif inside and not line.startswith(("{", "[local")) and len(blocks[-1]) < MAX_LINES:
            blocks[-1].append(line)
        else:
            inside = False
    return "\n\n".join("\n".join(block) for block in blocks[-MAX_SHOWN:])
