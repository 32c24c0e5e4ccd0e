"""moto server in a process of its own, serving on a socket the local stack has already bound.

The local stack runs every function instance, the HTTP API and the stand-in Woosh in one
Python process; with moto in there too, one interpreter lock served a hundred concurrent
handlers AND every AWS call they make, and under a mass alarm moto's answers took longer
than botocore's 5 s read timeout. In its own process moto has an interpreter (and a core)
of its own. It is still moto server, as before: only where it runs changed.

The parent binds the port (so a taken port still fails fast, before anything slow starts,
and port 0 is known at once) and hands the listening socket to the child, which serves
on it until it is told to stop, or until its parent is gone.

`python -m local.moto_process --fd N` is the child; `MotoProcess` starts and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Any

from local.process import terminate
from local.serving import LOOPBACK, bind_listener
from local.template import REPO_ROOT

READY = b"ready\n"
# moto's import alone takes a few seconds on a loaded machine.
START_TIMEOUT_SECONDS = 60.0
PARENT_CHECK_SECONDS = 1.0


class MotoStartError(RuntimeError):
    pass


class MotoProcess:
    """moto server on host:port (0 = any free port) in a child process, until `stop()`."""

    def __init__(self, *, name: str, host: str = LOOPBACK, port: int = 0) -> None:
        self._name = name
        self._host = host
        self._requested_port = port
        self._listener: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self._name

    def bind(self) -> None:
        """Claim the port now (fail fast when it is taken); `start()` serves on it later."""
        if self._listener is None:
            self._listener = bind_listener(self._host, self._requested_port, name=self._name)

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError(f"{self._name} is not bound")
        return int(self._listener.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start the child on the bound socket and wait until it serves (it says so on stdout)."""
        if self._process is not None:
            return
        self.bind()
        assert self._listener is not None
        fd = self._listener.fileno()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.moto_process", "--fd", str(fd), "--parent", str(os.getpid())],
            cwd=REPO_ROOT,
            pass_fds=(fd,),
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        if not _wait_for_line(self._process.stdout, READY, timeout):
            code = self._process.poll()
            self.stop()
            raise MotoStartError(
                f"{self._name} did not start within {timeout:g}s"
                if code is None
                else f"{self._name} exited with {code} while starting"
            )

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout)
            if process.stdout is not None:
                process.stdout.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None


def _wait_for_line(stream: IO[bytes], expected: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([stream], [], [], left)
        if readable:
            line = stream.readline()
            if not line:
                return False  # the child closed its stdout: it exited
            if line == expected:
                return True
    return False


def _route_key(environ: dict[str, Any]) -> tuple[str, ...] | None:
    """What decides which of moto's backend apps answers a SigV4-signed request: the
    credential scope's region and service, the X-Amz-Target service, the path and the host
    (`DomainDispatcherApplication.infer_service_region_host`). None: not signed."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split(",")[0].split()[1].split("/")
    except IndexError:
        return None
    if len(scope) != 5:
        return None
    target = str(environ.get("HTTP_X_AMZ_TARGET", "")).split(".", 1)[0]
    return (scope[2], scope[3], target, str(environ.get("PATH_INFO", "")), str(environ.get("HTTP_HOST", "")))


def dispatcher() -> Any:
    """moto server's WSGI app, remembering which backend app answers which kind of request.

    moto finds the app for every request anew under one lock, listing its ~200 service
    packages on disk and matching hundreds of URL patterns: under a mass alarm the requests
    queued on that lock more than on DynamoDB itself. The answer depends only on what
    `_route_key` reads, so it is looked up once per key."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class RememberingDispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self.routes: dict[tuple[str, ...], Any] = {}

        def get_application(self, environ: dict[str, Any]) -> Any:
            key = _route_key(environ)
            if key is None:
                return super().get_application(environ)
            app = self.routes.get(key)
            if app is None:
                app = self.routes[key] = super().get_application(environ)
            return app

    return RememberingDispatcher()


def _exit_when_orphaned(parent: int) -> None:
    """The stack killed with SIGKILL cannot stop its child: the child stops itself."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def serve(fd: int, parent: int | None) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from local.moto_atomic import prepare_moto

    # DynamoDB's per-item atomicity, which the race guarantees rest on, and its item answers
    # rendered as plain JSON, where moto now runs.
    prepare_moto()

    def quiet(self: MotoRequestHandler, type: str, message: str, *args: object) -> None:
        return

    handler = type("QuietMotoRequestHandler", (MotoRequestHandler,), {"log": quiet})
    listener = socket.socket(fileno=fd)
    host, port = listener.getsockname()[:2]
    server = make_server(
        host,
        port,
        dispatcher(),
        threaded=True,
        request_handler=handler,
        fd=listener.fileno(),
    )
    listener.detach()  # werkzeug serves on its own duplicate; the original stays open, unused
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the stack stops us
    if parent is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    # moto's modules and models live as long as the process: out of the collector's way, so a
    # full collection scans the tables' data only (`local.lambda_runtime` does the same).
    gc.freeze()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    with contextlib.suppress(Exception):
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto server on an inherited listening socket")
    parser.add_argument("--fd", type=int, required=True, help="listening socket to serve on")
    parser.add_argument("--parent", type=int, help="exit when this process is no longer our parent")
    args = parser.parse_args(argv)
    serve(args.fd, args.parent)
    sys.stdout.flush()
    # Skip the final garbage collection of moto's heap, which alone takes seconds.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
