"""`WooshStandIn`: the stand-in Woosh Bridge assembled from its parts, with its life cycle and controls.

The send endpoint and URL map are `local.woosh.routes`, what was received and programmed is
`local.woosh.recording`, taps, replies and statuses are `local.woosh.inbound` (its base
class); this module ties them to a loopback server and offers the controls tests call. The
behaviours and the control endpoints are described in `local.woosh_standin`'s docstring.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence

from local.serving import LOOPBACK, BackgroundServer
from local.woosh.errors import ERROR_STATUS
from local.woosh.inbound import DEFAULT_WINDOW_FAILURE_DELAY, SimulatedInbound
from local.woosh.limits import RateLimiter, RateLimits, ReplyWindows
from local.woosh.payloads import DEFAULT_TENANT_ID, REENGAGEMENT_ERROR, Dispatch, StatusForm
from local.woosh.recording import Fault, SendRecord, wait_for
from local.woosh.routes import BridgeRoutes
from local.woosh.send_api import SentMessage, digits
from local.woosh.templates import DEFAULT_TEMPLATE_BUTTON_TEXTS, TemplateSpec, template_registry


class WooshStandIn(SimulatedInbound):
    """A Woosh Bridge on 127.0.0.1 for tests and the local stack. Thread-safe."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        templates: Mapping[str, TemplateSpec] | None = None,
        template_button_texts: Sequence[str] = DEFAULT_TEMPLATE_BUTTON_TEXTS,
        callback_token: str | None = None,
        signing_secret: str | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        status_form: StatusForm = "meta",
        enforce_window: bool = False,
        window_failure_delay: float = DEFAULT_WINDOW_FAILURE_DELAY,
        rate_limits: RateLimits | bool = False,
        listener: socket.socket | None = None,
    ) -> None:
        """`templates` maps approved template names to a `TemplateShape` (or just their quick-reply
        labels by index); when None any template name is accepted with `template_button_texts`.
        `rate_limits=True` applies Woosh's limits as documented; `listener` is a socket bound
        already to serve on instead of host:port; `local.woosh_standin` has the rest."""
        super().__init__(
            SendRecord(),
            ReplyWindows(),
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            callback_token=callback_token,
            signing_secret=signing_secret,
            tenant_id=tenant_id,
            status_form=status_form,
            window_failure_delay=window_failure_delay,
        )
        self.api_key = api_key
        self.enforce_window = enforce_window
        self.templates = template_registry(templates)
        self.rate_limits: RateLimits | None = (
            rate_limits if isinstance(rate_limits, RateLimits) else RateLimits() if rate_limits else None
        )
        self._limiter = RateLimiter(self.rate_limits) if self.rate_limits else None
        self._stopping = threading.Event()
        routes = BridgeRoutes(
            self,
            sends=self._sends,
            limiter=self._limiter,
            windows=self._windows,
            default_texts=template_button_texts,
            stopping=self._stopping,
        )
        self._server = BackgroundServer(
            routes.wsgi, name="woosh stand-in", host=host, port=port, listener=listener
        )

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> WooshStandIn:
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes sends that are sleeping on a programmed delay
        self._later.cancel_all()
        self._server.stop()
        self._delivery.close()

    def __enter__(self) -> WooshStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def port(self) -> int:
        return self._server.port

    # -- records and faults --------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """A snapshot of every send received, oldest first."""
        return self._sends.sent

    @property
    def dispatched(self) -> list[Dispatch]:
        """A snapshot of every webhook POST made (taps, replies, statuses), oldest first."""
        return self._delivery.dispatched

    @property
    def rate_limited_count(self) -> int:
        """How many sends were answered `429 rate_limited` by the rate limits (not by `fail_next`)."""
        return self._limiter.refused if self._limiter is not None else 0

    def stats(self) -> dict[str, int]:
        sent = self.sent
        return {
            "sent": len(sent),
            "accepted": sum(1 for m in sent if m.accepted),
            "rate_limited": self.rate_limited_count,
            "dispatched": len(self.dispatched),
            "window_failures": sum(1 for m in sent if m.fails_with == REENGAGEMENT_ERROR[0]),
        }

    def accepted(self, to: str | None = None) -> list[SentMessage]:
        return self._sends.accepted(to)

    def message(self, message_id: str) -> SentMessage:
        return self._sends.message(message_id)

    def wait_for_sent(self, count: int, *, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until at least `count` sends were received; returns them (raises TimeoutError)."""
        return wait_for(lambda: self.sent, count, timeout, "sends received")

    def wait_for_dispatched(self, count: int, *, timeout: float = 10.0) -> list[Dispatch]:
        """Wait until at least `count` webhook POSTs were made; returns them (raises TimeoutError)."""
        return wait_for(lambda: self.dispatched, count, timeout, "webhook POSTs made")

    def fail_next(
        self,
        to: str | None = None,
        *,
        error: str | None = "server_error",
        status: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        raw_body: str | None = None,
    ) -> None:
        """Make the next `times` sends (to `to`, or any recipient) fail.

        `error` is a Woosh error code answered with its usual status (or `status`); `raw_body`
        answers that text instead of JSON; `delay` waits first (a client timeout). With
        `error=None` and no `raw_body` the send is accepted normally after the delay.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        code = status if status is not None else ERROR_STATUS.get(error or "", 200 if error is None else 500)
        fault = Fault(digits(to) if to else None, error, code, times, max(0.0, delay), raw_body)
        self._sends.add_fault(fault)

    def set_delay(self, seconds: float) -> None:
        """Every send waits this long before answering (0 to stop)."""
        self._sends.set_delay(seconds)

    def reset(self) -> None:
        self._later.cancel_all()
        self._delivery.reset()
        self._sends.reset()
        self._windows.reset()
        if self._limiter is not None:
            self._limiter.reset()

    # -- the 24-hour window ----------------------------------------------------------------------

    def wrote(self, phone: str, seconds_ago: float = 0) -> None:
        """`phone` wrote to the business `seconds_ago` seconds ago (opens its window if under 24 h)."""
        self._windows.wrote(digits(phone), time.time() - seconds_ago)

    def window_open(self, phone: str) -> bool:
        return self._windows.is_open(digits(phone))
