"""A WSGI app served by a threaded werkzeug server on loopback, in a background thread.

The listening socket is bound here rather than by werkzeug, whose own bind failure prints
a message and calls `sys.exit` (and leaves moto's `ThreadedMotoServer.start()` waiting
forever): a taken port becomes a `PortInUseError` with a one-line message instead.
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

LOOPBACK = "127.0.0.1"


class PortInUseError(RuntimeError):
    """The port asked for is taken; the message is one line, fit for a user."""


def _quiet(handler: type[WSGIRequestHandler]) -> type[WSGIRequestHandler]:
    def log(self: WSGIRequestHandler, type: str, message: str, *args: Any) -> None:
        return

    return type(f"Quiet{handler.__name__}", (handler,), {"log": log})


def bind_listener(host: str, port: int, *, name: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"{name}: port {port} on {host} is already in use") from None
        raise PortInUseError(f"{name}: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


class BackgroundServer:
    """Serve `app` on host:port (0 = any free port) until `stop()`."""

    def __init__(
        self,
        app: Any,
        *,
        name: str,
        host: str = LOOPBACK,
        port: int = 0,
        quiet: bool = True,
        request_handler: type[WSGIRequestHandler] = WSGIRequestHandler,
        listener: socket.socket | None = None,
    ) -> None:
        """`listener`: a socket bound and listening already (a parent's, `local.child_server`),
        served instead of binding host:port."""
        self._app = app
        self._name = name
        self._host = host
        self._requested_port = port
        self._handler = _quiet(request_handler) if quiet else request_handler
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = listener

    @property
    def name(self) -> str:
        return self._name

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running")
        return int(self._server.port)

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def bind(self) -> None:
        """Claim the port now (fail fast when it is taken); `start()` serves on it later."""
        if self._listener is None and self._server is None:
            self._listener = bind_listener(self._host, self._requested_port, name=self._name)

    @property
    def bound_port(self) -> int:
        if self._listener is not None:
            return int(self._listener.getsockname()[1])
        return self.port

    def start(self) -> None:
        if self._server is not None:
            return
        self.bind()
        listener, self._listener = self._listener, None
        assert listener is not None
        try:
            self._server = make_server(
                self._host,
                self._requested_port,
                self._app,
                threaded=True,
                request_handler=self._handler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # werkzeug works on its own duplicate of the descriptor
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
