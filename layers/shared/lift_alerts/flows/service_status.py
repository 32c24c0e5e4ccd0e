"""The service's health (SPEC §13): `GET /status` and the desk's `/desk/api/status`.

`{"queued", "parked", "dead_letters": {name: count}, "sweep": {"last_run_at"},
"send_budget": {"used_last_60s", "limit"}, "alarms": [names in ALARM], "problems": [...]}`:
each part is read on its own (in parallel), and a part that cannot be read is null with a
`problems` entry saying why: the answer is never a 5xx for the whole. A dead-letter queue that
cannot be read is null on its own, beside the others.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from lift_alerts.domain.send_slots import PacingLimits
from lift_alerts.platform.config import ConfigurationError, Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.queue_depths import alarms_in_alarm, queue_depth
from lift_alerts.store.send_budget import SendBudget
from lift_alerts.store.send_queue import SendQueue
from lift_alerts.store.sweep_runs import SweepRuns


def service_status(settings: Settings) -> dict[str, Any]:
    """Every part of the status, each read on its own; problems listed, never raised."""
    readers: dict[str, Callable[[], Any]] = {
        "queued": lambda: SendQueue(settings.alerts_table).size(),
        "parked": lambda: queue_depth(_needed(settings.parked_queue_url, "PARKED_QUEUE_URL")),
        "sweep": lambda: {"last_run_at": SweepRuns(settings.alerts_table).last_run()},
        "send_budget": lambda: _send_budget(settings),
        "alarms": lambda: alarms_in_alarm(_needed(settings.alarm_name_prefix, "ALARM_NAME_PREFIX")),
    }
    queues = dict(settings.dead_letter_queues)
    for name, url in queues.items():
        readers[f"dead_letters.{name}"] = lambda url=url: queue_depth(url)  # type: ignore[misc]
    with ThreadPoolExecutor(max_workers=len(readers), thread_name_prefix="status") as pool:
        futures = {part: pool.submit(read) for part, read in readers.items()}
    problems: list[dict[str, str]] = []
    parts = {part: _result(part, future.result, problems) for part, future in futures.items()}
    if queues:
        dead_letters: dict[str, Any] | None = {name: parts.pop(f"dead_letters.{name}") for name in queues}
    else:
        dead_letters = None
        problems.append(_problem("dead_letters", "DEAD_LETTER_QUEUE_URLS is not set"))
    return {
        "queued": parts["queued"],
        "parked": parts["parked"],
        "dead_letters": dead_letters,
        "sweep": parts["sweep"],
        "send_budget": parts["send_budget"],
        "alarms": parts["alarms"],
        "problems": problems,
    }


def _send_budget(settings: Settings) -> dict[str, int]:
    limits = PacingLimits.from_env()
    used = SendBudget(settings.alerts_table, limits).used_last_minute()
    return {"used_last_60s": used, "limit": limits.per_minute}


def _needed(value: str | None, variable: str) -> str:
    if not value:
        raise ConfigurationError(f"{variable} is not set")
    return value


def _result(part: str, result: Callable[[], Any], problems: list[dict[str, str]]) -> Any:
    """The part's value, or None with a problem saying why it could not be read."""
    try:
        return result()
    except ConfigurationError as exc:
        problems.append(_problem(part, str(exc)))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        problems.append(
            _problem(part, f"AWS answered {error.get('Code', 'an error')}: {error.get('Message', '')}")
        )
    except Exception as exc:
        problems.append(_problem(part, f"could not be read ({type(exc).__name__})"))
    logger.warning("status part not read", extra={"part": part, "problem": problems[-1]["message"]})
    count("StatusPartUnread")
    return None


def _problem(part: str, message: str) -> dict[str, str]:
    return {"part": part, "message": message.strip().rstrip(":")}
