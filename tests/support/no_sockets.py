"""The unit tier's guard: while it holds, every socket (listening or connecting) raises."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class SocketInUnitTest(RuntimeError):
    """A unit test tried to open a socket: it belongs in tests/component or tests/e2e."""


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise SocketInUnitTest("unit tests are socket-free: move this test to tests/component")


@contextmanager
def sockets_refused() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "__init__", _refuse)
        patch.setattr(socket, "create_connection", _refuse)
        patch.setattr(socket, "socketpair", _refuse)
        yield
