"""Running things on a timer: the event an EventBridge schedule sends, and a loop that runs a
step every few seconds (a schedule's invocation, or a pump's poll) until stopped."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.pumps.batches import Logger


def scheduled_event(rule_arn: str, *, region: str, account_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class BackgroundLoop:
    """Runs `step()` every `interval` seconds in a daemon thread until `stop()`."""

    def __init__(
        self, name: str, step: Callable[[], Any], interval: float, *, log: Logger | None = None
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._log = log or (lambda message: None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._step()
            except Exception as exc:  # keep pumping: a local stack must survive a moto hiccup
                self._log(f"{self.name}: {type(exc).__name__}: {exc}")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
