"""Start `python -m local.stack` as a child process on free ports and stop it cleanly.

Used by the demo and the end-to-end tests, which drive the stack over HTTP only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from local.template import REPO_ROOT


def terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, then wait; SIGKILL only if it does not stop in time. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


class StackStartError(RuntimeError):
    pass


class StackProcess:
    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        self._extra_env = env or {}
        self._log_path = log_path
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="lift-alerts-stack-")
        self.info: dict[str, Any] = {}
        self.exit_code: int | None = None

    @property
    def log_path(self) -> Path:
        return self._log_path or Path(self._tmp.name) / "stack.log"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> StackProcess:
        ready = Path(self._tmp.name) / "ready.json"
        env = {
            **os.environ,
            "API_PORT": "0",
            "AWS_PORT": "0",
            "WOOSH_PORT": "0",
            "PYTHONUNBUFFERED": "1",
            **self._extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--ready-file", str(ready)],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if ready.exists():
                self.info = json.loads(ready.read_text(encoding="utf-8"))
                return self
            if self._process.poll() is not None:
                self.exit_code = self._process.returncode
                raise StackStartError(
                    f"the local stack exited with {self.exit_code}:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.1)
        self.stop()
        raise StackStartError(f"the local stack was not ready within {self._start_timeout:g}s")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then wait; SIGKILL only if it does not stop in time. Returns the exit code."""
        process = self._process
        if process is None:
            return self.exit_code
        self.exit_code = terminate(process, timeout)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.exit_code

    def cleanup(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
