"""Each concurrent invocation of the local stack sees its own request in Powertools' resolver.

Powertools' event handler keeps the request being resolved in CLASS attributes
(`BaseRouter.current_event`, `BaseRouter.lambda_context`, set by `resolve()` and read by the
routing and by `app.current_event`), shared by every resolver in the process. In Lambda that
is harmless: a process runs one invocation at a time. The local stack runs every function
instance in one process, so two concurrent requests overwrote each other's event: under a
mass alarm one POST /alerts was routed and answered with another alarm's body (the stand-in
received that alarm twice, and the other never; seen with a shorter thread switch interval).

Here both attributes become per thread, on the class and on its instances alike: an
invocation runs on one thread from `resolve()` to its answer. Nothing changes for a single
thread (the tests' direct handler calls, Lambda itself).
"""

from __future__ import annotations

import threading
from abc import ABCMeta
from typing import Any

_per_thread = threading.local()
ROUTER_STATE = ("current_event", "lambda_context")


class _ThisThreads:
    """A data descriptor whose value is the calling thread's."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        try:
            return getattr(_per_thread, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: object, value: Any) -> None:
        setattr(_per_thread, self.name, value)


class _RouterMeta(ABCMeta):
    """BaseRouter's metaclass here: `BaseRouter.current_event = ...` lands in the thread's slot."""

    current_event = _ThisThreads("current_event")
    lambda_context = _ThisThreads("lambda_context")


def isolate_router_state() -> None:
    """Make Powertools' current request per thread in this process (once; idempotent)."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    if type(BaseRouter) is _RouterMeta:
        return
    for name in ROUTER_STATE:
        # Read through an instance (`app.current_event`, the routing's `self.current_event`).
        setattr(BaseRouter, name, _ThisThreads(name))
    # Written and read through the class itself (`BaseRouter.current_event = ...`).
    setattr(BaseRouter, "__class__", _RouterMeta)  # noqa: B010 - mypy has no type for it
