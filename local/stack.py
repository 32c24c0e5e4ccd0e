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
  queue → ParkedFunction, the escalation schedule every $LOCAL_TIMER_SECONDS (5) seconds.

A port of 0 picks a free one; `--ready-file PATH` (or $LOCAL_READY_FILE) receives the URLs
as JSON once everything is up, for scripts that start the stack in the background.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.account import (
    ACCOUNT_ID,
    LOCAL_SECRET_VALUES,
    STACK_NAME,
    AwsClients,
    local_aws_environment,
    region,
)
from local.apigw import HttpApiApp, Route, template_routes
from local.function_environment import function_environment, local_function_runtime
from local.lambda_runtime import DEFAULT_INSTANCES, FunctionRuntime, add_layers_to_path, apply_environment
from local.moto_process import MotoProcess
from local.provision import LocalStackResources, Provisioner
from local.pumps import BackgroundLoop, SqsPump, StreamPump, scheduled_event
from local.serving import LOOPBACK, BackgroundServer, PortInUseError
from local.template import Resolver, Template, TemplateError
from local.woosh.limits import RateLimits
from local.woosh.templates import TemplateShape
from local.woosh_standin import WooshStandIn

STATE_FILE = Path(__file__).resolve().parent / ".state" / "stack.json"
STREAM_POLL_SECONDS = 0.2
SWITCH_INTERVAL_SECONDS = 0.001
QUEUE_POLL_SECONDS = 0.2
MAX_LOCAL_STREAM_ATTEMPTS = 10


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"error: {name} must be a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise SystemExit(f"error: {name} must be between 0 and 65535, got {value}")
    return value


# The local stack runs as a real deployment should (template-first, SPEC §5) with a template
# shaped like the customer's approved one: one body variable, here the whole alert text on one
# line (`text`), so a reminder still says REMINDER n/N. Set
# ALERT_TEMPLATE_NAME (empty: interactive-only) or ALERT_TEMPLATE_PARAMS to run otherwise.
LOCAL_TEMPLATE_NAME = "lift_alarm"
LOCAL_TEMPLATE_PARAMS = "text"
# Notices (acknowledgements, outcome, critical) to people outside their window (SPEC §10).
LOCAL_NOTICE_TEMPLATE_NAME = "lift_notice"
# The entrapment confirmation's YES question to people outside their window (SPEC §10).
LOCAL_CONFIRM_TEMPLATE_NAME = "lift_confirm"


def _template_parameters() -> dict[str, str]:
    name = os.environ.get("ALERT_TEMPLATE_NAME", LOCAL_TEMPLATE_NAME).strip()
    params = os.environ.get("ALERT_TEMPLATE_PARAMS", "").strip() or LOCAL_TEMPLATE_PARAMS
    notice = os.environ.get("NOTICE_TEMPLATE_NAME", LOCAL_NOTICE_TEMPLATE_NAME).strip()
    confirm = os.environ.get("CONFIRM_TEMPLATE_NAME", LOCAL_CONFIRM_TEMPLATE_NAME).strip()
    return {
        "AlertTemplateName": name,
        "AlertTemplateParams": params,
        "NoticeTemplateName": notice,
        "ConfirmTemplateName": confirm,
    }


@dataclass
class StackConfig:
    aws_port: int = 5000
    api_port: int = 3000
    woosh_port: int = 3001
    woosh_base_url: str | None = None
    timer_seconds: float = 5.0
    instances: int = DEFAULT_INSTANCES
    template_path: Path | None = None
    parameters: dict[str, str] = field(default_factory=_template_parameters)
    # The stand-in Woosh enforces what the real Bridge and Meta do (SPEC §8): off only for
    # scripts that study something else.
    woosh_like_real: bool = True
    # Woosh's rate windows scaled in time (0.5: 0.5 s and 30 s), for the stand-in and the
    # functions' send budget together, so the two always agree (the mass-alarm benchmark).
    rate_time_scale: float = 1.0
    # The functions' margin on each window (WOOSH_RATE_GUARD_MS), None: the template's.
    rate_guard_ms: float | None = None

    @classmethod
    def from_env(cls) -> StackConfig:
        timer = os.environ.get("LOCAL_TIMER_SECONDS", "").strip()
        scale = os.environ.get("LOCAL_RATE_TIME_SCALE", "").strip()
        guard = os.environ.get("LOCAL_RATE_GUARD_MS", "").strip()
        # Lambda runs one instance per concurrent request; a load test needs as many.
        instances = os.environ.get("LOCAL_FUNCTION_INSTANCES", "").strip()
        return cls(
            aws_port=_port("AWS_PORT", 5000),
            api_port=_port("API_PORT", 3000),
            woosh_port=_port("WOOSH_PORT", 3001),
            woosh_base_url=os.environ.get("WOOSH_BASE_URL", "").strip() or None,
            timer_seconds=float(timer) if timer else 5.0,
            instances=int(instances) if instances else DEFAULT_INSTANCES,
            rate_time_scale=float(scale) if scale else 1.0,
            rate_guard_ms=float(guard) if guard else None,
        )


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
        self._loops: list[BackgroundLoop] = []
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

    def _queue_url(self, arn: str) -> str:
        assert self.resources is not None
        for logical_id in self.resources.of_type("AWS::SQS::Queue"):
            if self.resources.attributes.get((logical_id, "Arn")) == arn:
                return self.resources.refs[logical_id]
        raise TemplateError(f"no queue of the template has ARN {arn}")

    def _start_event_sources(self) -> None:
        assert self.resources is not None
        resolver = Resolver(self.template, dict(self.resources.refs), dict(self.resources.attributes))
        for logical_id, spec in self.template.functions().items():
            handler = self.handler(logical_id)
            for event in spec.events:
                props = resolver.resolve(event.properties)
                if event.type == "DynamoDB":
                    self._stream_source(logical_id, props, handler)
                elif event.type == "SQS":
                    pump = SqsPump(
                        self._queue_url(props["Queue"]),
                        handler,
                        batch_size=int(props.get("BatchSize", 10)),
                        endpoint_url=self.aws_endpoint,
                        region=region(),
                        log=_log,
                    )
                    self._loop(f"sqs:{logical_id}", pump.poll, QUEUE_POLL_SECONDS)
                elif event.type == "Schedule":
                    rule_arn = (
                        f"arn:aws:events:{region()}:{ACCOUNT_ID}:rule/{STACK_NAME}-{logical_id}{event.name}"
                    )

                    def tick(
                        handler: Callable[[dict[str, Any]], Any] = handler, rule_arn: str = rule_arn
                    ) -> None:
                        handler(scheduled_event(rule_arn, region=region(), account_id=ACCOUNT_ID))

                    self._loop(f"schedule:{logical_id}", tick, self.config.timer_seconds)
                elif event.type != "HttpApi":
                    _log(f"warning: {logical_id} event {event.name} of type {event.type} is not emulated")

    def _stream_source(
        self, logical_id: str, props: dict[str, Any], handler: Callable[[dict[str, Any]], Any]
    ) -> None:
        assert self.resources is not None
        table = self.resources.table_for_stream_arn(str(props["Stream"]))
        if table is None:
            raise TemplateError(f"{logical_id}: no table of the template has stream {props['Stream']}")
        retries = int(props.get("MaximumRetryAttempts", -1))
        attempts = MAX_LOCAL_STREAM_ATTEMPTS if retries < 0 else min(retries + 1, MAX_LOCAL_STREAM_ATTEMPTS)
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        pump = StreamPump(
            table,
            handler,
            batch_size=int(props.get("BatchSize", 100)),
            starting_position=str(props.get("StartingPosition", "LATEST")),
            max_attempts=attempts,
            on_failure_queue_url=self._queue_url(on_failure) if on_failure else None,
            endpoint_url=self.aws_endpoint,
            region=region(),
            log=_log,
        )
        pump.poll()  # opens the stream now, so LATEST means "from start-up"
        self._loop(f"stream:{logical_id}", pump.poll, STREAM_POLL_SECONDS)

    def _loop(self, name: str, step: Callable[[], Any], interval: float) -> None:
        loop = BackgroundLoop(name, step, interval, log=_log)
        loop.start()
        self._loops.append(loop)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for loop in self._loops:
            loop.stop()
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
        f"  Escalation timer every {stack.config.timer_seconds:g}s. Ctrl-C stops everything."
    )


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
    # that wakes too late gives its slot up, `lift_alerts.woosh`).
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
