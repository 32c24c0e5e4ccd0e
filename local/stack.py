"""The Docker-free local stack: `python -m local.stack` (`make local`).

Starts, until Ctrl-C or SIGTERM:
- moto server on 127.0.0.1:$AWS_PORT (5000), in a child process of its own
  (`local.moto_process`), with template.yaml's tables, queues, secret,
  bus, archive, connection, API destination and rules, plus a rule copying every bus event
  to the local queue `lift-alerts-local-events`;
and, in this process,
- the template's HttpApi routes on 127.0.0.1:$API_PORT (3000), each request handed to its
  function's handler as an API Gateway HTTP API 2.0 event;
- a stand-in Woosh Bridge on 127.0.0.1:$WOOSH_PORT (3001) posting signed taps and statuses
  to the local /webhook (skipped when WOOSH_BASE_URL is set: the functions use that bridge);
- the event sources of the template: the table stream → PublisherFunction, the parked
  queue → ParkedFunction, the wake-up queue → EscalationFunction (delays honoured), and each
  schedule at its deployed period (the one-minute sweep every 60 s) unless $LOCAL_TIMER_SECONDS
  sets another.

A port of 0 picks a free one; `--ready-file PATH` (or $LOCAL_READY_FILE) receives the URLs
as JSON once everything is up, for scripts that start the stack in the background. What the
environment sets is `local.stack_config`; the pumps and timers are `local.event_sources`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.account import ACCOUNT_ID, LOCAL_SECRET_VALUES, AwsClients, local_aws_environment, region
from local.apigw import HttpApiApp, Route, template_routes
from local.event_sources import EventSources
from local.function_environment import function_environment, local_function_runtime
from local.lambda_runtime import FunctionRuntime, add_layers_to_path, apply_environment
from local.moto_process import MotoProcess
from local.provision import LocalStackResources, Provisioner
from local.serving import LOOPBACK, BackgroundServer, PortInUseError
from local.stack_config import LOCAL_TEMPLATE_PARAMS, StackConfig
from local.template import Template, TemplateError
from local.woosh.limits import RateLimits
from local.woosh.templates import TemplateShape
from local.woosh_standin import WooshStandIn

STATE_FILE = Path(__file__).resolve().parent / ".state" / "stack.json"
SWITCH_INTERVAL_SECONDS = 0.001


def _log(message: str) -> None:
    print(f"[local] {message}", file=sys.stderr, flush=True)


class LocalStack:
    """Everything `make local` runs, startable and stoppable from tests and the demo."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.template = Template.load(config.template_path) if config.template_path else Template.load()
        self.moto: MotoProcess | None = None
        self.api: BackgroundServer | None = None
        self.woosh: WooshStandIn | None = None
        self.resources: LocalStackResources | None = None
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.event_sources: EventSources | None = None
        self._stopped = False

    # -- URLs ----------------------------------------------------------------------------

    @property
    def aws_endpoint(self) -> str:
        assert self.moto is not None
        return self.moto.base_url

    @property
    def api_url(self) -> str:
        assert self.api is not None
        return self.api.base_url

    @property
    def woosh_url(self) -> str:
        if self.woosh is not None:
            return self.woosh.base_url
        return str(self.config.woosh_base_url)

    # -- start / stop --------------------------------------------------------------------

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        # Claim every port first: a taken one fails before anything slow has started.
        app = HttpApiApp(self._routes(), self._invoke, account_id=ACCOUNT_ID)
        self.api = BackgroundServer(app, name="HTTP API (API_PORT)", port=self.config.api_port)
        self.api.bind()
        # moto in a process of its own: an interpreter lock of its own for every AWS call the
        # function instances make (`local.moto_process`), which also makes it atomic per item.
        self.moto = MotoProcess(name="moto server (AWS_PORT)", port=self.config.aws_port)
        self.moto.bind()
        if self.config.woosh_base_url is None:
            self.woosh = self._woosh_standin(f"http://{LOOPBACK}:{self.api.bound_port}/webhook").start()

        self.moto.start()
        apply_environment(local_aws_environment(self.aws_endpoint))
        self.resources = Provisioner(
            self.template, AwsClients(self.aws_endpoint), parameters=self._parameters()
        ).provision()
        self._load_functions()
        self.api.start()
        self._start_event_sources()

    def _parameters(self) -> dict[str, str]:
        scale = self.config.rate_time_scale
        if scale == 1.0:
            return self.config.parameters
        return {**self.config.parameters, "WooshRateTimeScale": f"{scale:g}"}

    def _woosh_standin(self, webhook_url: str) -> WooshStandIn:
        """The stand-in, behaving as the real Bridge does (SPEC §5, §6, §8): it forwards with the
        callback token (Bearer), dispatches statuses in Meta's payload and again in its own
        wrapper, fails an interactive or text message to a person outside the 24-hour window
        with 131047, refuses a template whose variables do not fit the approved shape (Meta
        132000), and answers 429 past 10 messages a second or 100 a minute."""
        if not self.config.woosh_like_real:
            return WooshStandIn(
                api_key=LOCAL_SECRET_VALUES["woosh_api_key"],
                webhook_url=webhook_url,
                webhook_secret=LOCAL_SECRET_VALUES["webhook_secret"],
                port=self.config.woosh_port,
            )
        params = self.config.parameters.get("AlertTemplateParams", LOCAL_TEMPLATE_PARAMS)
        name = self.config.parameters.get("AlertTemplateName", "")
        notice = self.config.parameters.get("NoticeTemplateName", "")
        confirm = self.config.parameters.get("ConfirmTemplateName", "")
        templates: dict[str, TemplateShape] = {}
        if name:
            templates[name] = TemplateShape(body_params=len(params.split(",")))
        if notice:
            templates[notice] = TemplateShape(body_params=1, buttons=())
        if confirm:
            templates[confirm] = TemplateShape(body_params=1, buttons=("YES",))
        return WooshStandIn(
            api_key=LOCAL_SECRET_VALUES["woosh_api_key"],
            webhook_url=webhook_url,
            callback_token=LOCAL_SECRET_VALUES["callback_token"],
            port=self.config.woosh_port,
            templates=templates or None,
            status_form="both",
            enforce_window=True,
            rate_limits=RateLimits(time_scale=self.config.rate_time_scale),
        )

    def _routes(self) -> list[Route]:
        return template_routes(self.template)

    def _load_functions(self) -> None:
        assert self.resources is not None
        add_layers_to_path(self.template)
        environments = {
            logical_id: function_environment(
                self.template,
                self.resources,
                logical_id,
                endpoint_url=self.aws_endpoint,
                woosh_base_url=self.woosh_url,
                overrides=self._rate_overrides(),
            )
            for logical_id in self.template.functions()
        }
        merged: dict[str, str] = {}
        for logical_id, env in environments.items():
            for name, value in env.items():
                if name.startswith("AWS_LAMBDA_"):
                    continue
                if name in merged and merged[name] != value:
                    _log(f"warning: {logical_id} sets {name} differently; one process shares one environment")
                merged[name] = value
        apply_environment(merged)
        for logical_id, spec in self.template.functions().items():
            runtime = local_function_runtime(spec, instances=self.config.instances, freeze_heap=True)
            runtime.warm()
            self.runtimes[logical_id] = runtime

    def _rate_overrides(self) -> dict[str, str]:
        """The functions pace themselves on the stand-in's windows when those are scaled."""
        overrides = {}
        if self.config.rate_time_scale != 1.0:
            overrides["WOOSH_RATE_TIME_SCALE"] = f"{self.config.rate_time_scale:g}"
        if self.config.rate_guard_ms is not None:
            overrides["WOOSH_RATE_GUARD_MS"] = f"{self.config.rate_guard_ms:g}"
        return overrides

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.runtimes[function].invoke(event)

    def handler(self, function: str) -> Callable[[dict[str, Any]], Any]:
        runtime = self.runtimes[function]
        return runtime.invoke

    def _start_event_sources(self) -> None:
        assert self.resources is not None
        self.event_sources = EventSources(
            self.template,
            self.resources,
            endpoint_url=self.aws_endpoint,
            timer_seconds=self.config.timer_seconds,
            log=_log,
        )
        self.event_sources.start(self.handler)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.event_sources is not None:
            self.event_sources.stop()
        for server in (self.api, self.woosh, self.moto):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()

    # -- description ---------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        assert self.resources is not None
        return {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "woosh_url": self.woosh_url,
            "woosh_standin": self.woosh is not None,
            "webhook_url": f"{self.api_url}/webhook",
            "region": region(),
            "events_queue_url": self.resources.events_queue_url,
            "table": self.resources.refs.get("AlertsTable"),
            "resources": self.resources.to_json(),
            "pid": os.getpid(),
        }


def _banner(stack: LocalStack) -> str:
    assert stack.resources is not None
    routes = "\n".join(f"    {route.route_key:<32} -> {route.function}" for route in stack._routes())
    woosh = (
        f"{stack.woosh_url}  (stand-in: GET /_sent /_stats /_dispatched, POST /_tap /_reply /_wrote "
        "/_status /_woosh_status /_fail_next /_delay /_reset)"
        if stack.woosh is not None
        else f"{stack.woosh_url}  (from WOOSH_BASE_URL)"
    )
    secret = ", ".join(f"{key}={value}" for key, value in LOCAL_SECRET_VALUES.items())
    return (
        f"lift-alerts local stack is up (pid {os.getpid()})\n"
        f"  API         {stack.api_url}\n{routes}\n"
        f"  AWS (moto)  {stack.aws_endpoint}  region {region()}\n"
        f"  Woosh       {woosh}\n"
        f"  Events      {stack.resources.events_queue_url}\n"
        f"  Secret      {secret}\n"
        f"  Schedules {_schedules(stack.config.timer_seconds)}. Ctrl-C stops everything."
    )


def _schedules(timer_seconds: float | None) -> str:
    if timer_seconds is None:
        return "at their deployed periods (the sweep every 60s; LOCAL_TIMER_SECONDS overrides)"
    return f"every {timer_seconds:g}s (LOCAL_TIMER_SECONDS; deployed: the sweep every 60s)"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    # Powertools warns on every timer tick that published no metric: noise in a terminal.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = argparse.ArgumentParser(description="Run the Docker-free local stack in the foreground.")
    parser.add_argument(
        "--ready-file", default=os.environ.get("LOCAL_READY_FILE"), help="write URLs here as JSON"
    )
    args = parser.parse_args(argv)
    # Every function instance runs in this one interpreter, where Lambda would give each its
    # own CPU: a thread waking for its send slot should get the interpreter within a
    # millisecond, not after the default 5 ms turns of a hundred busy handlers (a sender
    # that wakes too late gives its slot up, `lift_alerts.woosh.client`).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = time.monotonic()
    try:
        stack = LocalStack(StackConfig.from_env()).start()
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TemplateError, ImportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        description = stack.describe()
        # The state file tells `local.invoke` where the running stack is; scripts that
        # start their own stacks on free ports use --ready-file and leave it alone.
        _write_json(Path(args.ready_file) if args.ready_file else STATE_FILE, description)
        print(_banner(stack), flush=True)
        _log(f"ready in {time.monotonic() - started:.1f}s")
        while not stop.wait(0.5):
            pass
        _log("stopping")
    finally:
        stack.stop()
        if not args.ready_file:
            with contextlib.suppress(OSError):
                STATE_FILE.unlink()
    return 0


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped and flushed; skip the interpreter's final garbage collection of
    # moto's large heap, which alone takes seconds, so Ctrl-C returns at once.
    os._exit(exit_code)
