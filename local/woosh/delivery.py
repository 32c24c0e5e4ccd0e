"""Posting to the webhook as the Bridge does, with a record of every POST, and delayed posts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from local.woosh.payloads import BRIDGE_USER_AGENT, Dispatch, WebhookCredentials


class WebhookDelivery:
    """POSTs to a webhook URL and records each one (`dispatched`), also when there is no URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dispatched: list[Dispatch] = []
        self._session = requests.Session()

    @property
    def dispatched(self) -> list[Dispatch]:
        with self._lock:
            return list(self._dispatched)

    def deliver(
        self,
        url: str | None,
        credentials: WebhookCredentials,
        kind: str,
        payload: dict[str, Any],
        extra_headers: Mapping[str, str] | None = None,
        *,
        status_dispatch: bool = False,
    ) -> dict[str, Any]:
        """POST `payload` with the credentials' headers; `{"payload", "status", "body"}` of the answer.

        Without a URL nothing is posted, but the dispatch is still recorded (`posted` False) so
        a test can see what the Bridge would have sent.
        """
        result: dict[str, Any] = {"payload": payload, "status": None, "body": None}
        if not url:
            self._record(Dispatch(kind, payload, dict(extra_headers or {}), False, at=time.time()))
            return result
        raw = json.dumps(payload).encode()
        headers = credentials.headers(raw, status_dispatch=status_dispatch)
        headers.update(extra_headers or {})
        response = self.post(url, kind, payload, raw, headers)
        result["status"], result["body"] = response.status_code, response.text
        return result

    def post_raw(
        self,
        url: str,
        payload: dict[str, Any] | bytes,
        credentials: WebhookCredentials | None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a dict or raw bytes with `credentials` (None: no credential at all), `headers` last."""
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if credentials is None:
            sent_headers = {"Content-Type": "application/json", "User-Agent": BRIDGE_USER_AGENT}
        else:
            sent_headers = credentials.headers(raw)
        sent_headers.update(headers or {})
        recorded = payload if isinstance(payload, dict) else raw.decode(errors="replace")
        return self.post(url, "raw", recorded, raw, sent_headers)

    def post(
        self, url: str, kind: str, payload: Any, raw: bytes, headers: dict[str, str]
    ) -> requests.Response:
        try:
            response = self._session.post(url, data=raw, headers=headers, timeout=30)
        except requests.RequestException as exc:
            self._record(Dispatch(kind, payload, headers, True, error=str(exc), at=time.time()))
            raise
        self._record(
            Dispatch(kind, payload, headers, True, response.status_code, response.text, at=time.time())
        )
        return response

    def reset(self) -> None:
        with self._lock:
            self._dispatched.clear()

    def close(self) -> None:
        self._session.close()

    def _record(self, dispatch: Dispatch) -> None:
        with self._lock:
            self._dispatched.append(dispatch)


class DelayedCalls:
    """Calls run once after a delay on daemon timers; `cancel_all()` drops the ones not yet run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        # A timer already past its wait when cancelled still fires; the generation tells it not to call.
        self._generation = 0

    def schedule(self, delay: float, call: Callable[[], None]) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
                current = self._generation == generation
            if current:
                call()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            generation = self._generation
            self._timers.add(timer)
        timer.start()

    def cancel_all(self) -> None:
        with self._lock:
            self._generation += 1
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
