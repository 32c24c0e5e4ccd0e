"""Run a template function's handler in-process, the way Lambda would call it.

Each function's handler file is imported under its own module name (they are all
`app.py`), with the template's layers on `sys.path` where Lambda puts them. A function
gets a small pool of instances ("containers"): one invocation at a time per instance, as
in Lambda, so module-level state of a handler is never shared by two concurrent calls.
The environment must be applied (`apply_environment`) before the first import.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.router_isolation import isolate_router_state
from local.template import FunctionSpec, Template

Handler = Callable[[dict[str, Any], Any], Any]
DEFAULT_INSTANCES = 4


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    region: str
    account_id: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = (
            f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_context(
    spec: FunctionSpec, *, function_name: str, region: str, account_id: str
) -> LambdaContext:
    """A fresh invocation's context: the function's memory and Timeout from the template."""
    return LambdaContext(
        function_name=function_name,
        memory_limit_in_mb=spec.memory_mb,
        timeout_seconds=spec.timeout,
        region=region,
        account_id=account_id,
    )


def load_function_module(spec: FunctionSpec, module_name: str) -> ModuleType:
    """Import a function's handler file as `module_name` (every handler file is `app.py`), with
    the function's code directory first on `sys.path` while it imports, as Lambda has it."""
    module_file = spec.module_file
    if not module_file.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler file {module_file} does not exist")
    code_dir = str(spec.code_uri)
    module_spec = importlib.util.spec_from_file_location(module_name, module_file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {module_file}")
    # Instances share this process, where Lambda gives each its own: Powertools' resolver
    # must not share the request being resolved between them.
    isolate_router_state()
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    added = code_dir not in sys.path
    if added:
        sys.path.insert(0, code_dir)  # Lambda puts the function's code first on the path
    try:
        module_spec.loader.exec_module(module)
    finally:
        if added:
            sys.path.remove(code_dir)
    return module


def add_layers_to_path(template: Template) -> None:
    for path in reversed(template.layer_paths()):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def apply_environment(env: Mapping[str, str]) -> None:
    """Set the function environment in this process (all functions share one process)."""
    os.environ.update(env)


class FunctionRuntime:
    """Loads and invokes one template function."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        function_name: str,
        region: str,
        account_id: str,
        instances: int = 1,
        freeze_heap: bool = False,
    ) -> None:
        self.spec = spec
        self._freeze_heap = freeze_heap
        self.function_name = function_name
        self.region = region
        self.account_id = account_id
        self._instances = max(1, instances)
        self._created = 0
        self._idle: queue.Queue[Handler] = queue.Queue()
        self._lock = threading.Lock()

    def _load(self, index: int) -> Handler:
        module = load_function_module(self.spec, f"lambda_{self.spec.logical_id}_{index}")
        handler = getattr(module, self.spec.handler_attribute, None)
        if not callable(handler):
            raise TypeError(f"{self.spec.logical_id}: {self.spec.handler} is not a function")
        if self._freeze_heap:
            # Lambda gives each instance a heap of its own; here every instance's modules,
            # clients and models share one, and a full collection of it stalled every thread
            # for 100-140 ms under a mass alarm (senders woke past their send slots). What is
            # loaded lives as long as the process: out of the collector's way.
            gc.freeze()
        return handler  # type: ignore[no-any-return]

    def _acquire(self) -> Handler:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self._instances:
                self._created += 1
                try:
                    return self._load(self._created)
                except BaseException:
                    # A failed init uses up no instance: Lambda tries the init again on the next
                    # invoke (otherwise every later call would wait for an instance never made).
                    self._created -= 1
                    raise
        return self._idle.get(timeout=self.spec.timeout + 30)

    def warm(self) -> None:
        """Import the handler once now (surfaces import errors at start-up)."""
        self._idle.put(self._acquire())

    def context(self) -> LambdaContext:
        return function_context(
            self.spec, function_name=self.function_name, region=self.region, account_id=self.account_id
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler; its exceptions propagate (callers map them like Lambda would)."""
        handler = self._acquire()
        try:
            return handler(event, self.context())
        finally:
            self._idle.put(handler)


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's error response body for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }
