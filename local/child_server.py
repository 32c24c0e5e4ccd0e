"""A server of the local stack in a process of its own, serving on a socket the stack has bound.

The local stack runs every function instance and the HTTP API in one Python process. What
is another machine in AWS (moto standing in for AWS, the stand-in for the Woosh Bridge) runs
in a child process instead: with an interpreter lock of its own, its answers and its clock
do not wait for a hundred handler threads. Under a mass alarm, the stand-in's rate limiter
timed each send when that interpreter got round to it, up to ~100 ms after the sender sent
it, and answered `429` to sends the real Bridge, counting on arrival, would have accepted.

The parent binds the port (a taken port fails fast, before anything slow starts, and port 0
is known at once) and hands the listening socket to the child (`--fd`), which serves on it,
writes `ready` on stdout, and serves until SIGTERM or until its parent is gone (`--parent`).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

from local.process import terminate
from local.serving import LOOPBACK, bind_listener
from local.template import REPO_ROOT

READY = b"ready\n"
# moto's import alone takes a few seconds on a loaded machine.
START_TIMEOUT_SECONDS = 60.0
PARENT_CHECK_SECONDS = 1.0


class ChildStartError(RuntimeError):
    pass


class ChildServer:
    """`python -m <module> --fd N --parent PID <args>` serving host:port (0 = any free port)."""

    def __init__(
        self, *, name: str, module: str, args: Sequence[str] = (), host: str = LOOPBACK, port: int = 0
    ) -> None:
        self._name = name
        self._module = module
        self._args = list(args)
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

    def start(self, args: Sequence[str] = (), timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start the child on the bound socket (with `args` after those given at construction)
        and wait until it says it serves."""
        if self._process is not None:
            return
        self.bind()
        assert self._listener is not None
        fd = self._listener.fileno()
        command = [sys.executable, "-m", self._module, "--fd", str(fd), "--parent", str(os.getpid())]
        self._process = subprocess.Popen(
            [*command, *self._args, *args], cwd=REPO_ROOT, pass_fds=(fd,), stdout=subprocess.PIPE
        )
        assert self._process.stdout is not None
        if not _wait_for_line(self._process.stdout, READY, timeout):
            code = self._process.poll()
            self.stop()
            raise ChildStartError(
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


def inherited_listener(fd: int) -> socket.socket:
    """The listening socket the parent handed over (`--fd`)."""
    return socket.socket(fileno=fd)


def serve_until_stopped(parent: int | None) -> None:
    """In the child, once it serves: say so, then wait for SIGTERM (Ctrl-C reaches the whole
    process group; the parent stops us) or for the parent to be gone."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass


def _exit_when_orphaned(parent: int) -> None:
    """The stack killed with SIGKILL cannot stop its child: the child stops itself."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)
