"""The template's event sources, as the local stack runs them for its functions.

Each function's `DynamoDB` event is a `StreamPump` on the table's stream, each `SQS` event an
`SqsPump` on the queue (moto keeps a message sent with `DelaySeconds` invisible until then, as
SQS does), each `Schedule` a scheduled event at its expression's period (`rate(1 minute)`:
every 60 s, as deployed) unless `timer_seconds` overrides them all; every one runs in a
`BackgroundLoop` of its own until `stop()`. `HttpApi` events are the local API's
(`local.apigw`); any other type is logged as not emulated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from local.account import ACCOUNT_ID, STACK_NAME, region
from local.provision import LocalStackResources
from local.pumps import BackgroundLoop, Handler, Logger, SqsPump, StreamPump, scheduled_event
from local.template import EventSource, Resolver, Template, TemplateError

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


def schedule_period(expression: str) -> float:
    """The period of an EventBridge `rate(...)` expression, in seconds (a `cron(...)` or anything
    else is not emulated: TemplateError)."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise TemplateError(f"schedule {expression!r}: only rate(N minute(s)/hour(s)/day(s)) is emulated")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


STREAM_POLL_SECONDS = 0.2
QUEUE_POLL_SECONDS = 0.2
MAX_LOCAL_STREAM_ATTEMPTS = 10


class EventSources:
    """The pumps and timers feeding the functions, each a background loop."""

    def __init__(
        self,
        template: Template,
        resources: LocalStackResources,
        *,
        endpoint_url: str,
        timer_seconds: float | None,
        log: Logger,
    ) -> None:
        self.template = template
        self.resources = resources
        self.endpoint_url = endpoint_url
        self.timer_seconds = timer_seconds
        self._log = log
        self._loops: list[BackgroundLoop] = []

    def start(self, handler_of: Callable[[str], Handler]) -> None:
        """Start every function's event sources; `handler_of(logical_id)` is what they invoke."""
        resolver = Resolver(self.template, dict(self.resources.refs), dict(self.resources.attributes))
        for logical_id, spec in self.template.functions().items():
            handler = handler_of(logical_id)
            for event in spec.events:
                props = resolver.resolve(event.properties)
                if event.type == "DynamoDB":
                    self._stream_source(logical_id, props, handler)
                elif event.type == "SQS":
                    self._queue_source(logical_id, props, handler)
                elif event.type == "Schedule":
                    self._schedule_source(logical_id, event, handler)
                elif event.type != "HttpApi":
                    what = f"{logical_id} event {event.name} of type {event.type}"
                    self._log(f"warning: {what} is not emulated")

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()

    def _stream_source(self, logical_id: str, props: dict[str, Any], handler: Handler) -> None:
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
            endpoint_url=self.endpoint_url,
            region=region(),
            log=self._log,
        )
        pump.poll()  # opens the stream now, so LATEST means "from start-up"
        self._loop(f"stream:{logical_id}", pump.poll, STREAM_POLL_SECONDS)

    def _queue_source(self, logical_id: str, props: dict[str, Any], handler: Handler) -> None:
        pump = SqsPump(
            self._queue_url(props["Queue"]),
            handler,
            batch_size=int(props.get("BatchSize", 10)),
            endpoint_url=self.endpoint_url,
            region=region(),
            log=self._log,
        )
        self._loop(f"sqs:{logical_id}", pump.poll, QUEUE_POLL_SECONDS)

    def _schedule_source(self, logical_id: str, event: EventSource, handler: Handler) -> None:
        rule_arn = f"arn:aws:events:{region()}:{ACCOUNT_ID}:rule/{STACK_NAME}-{logical_id}{event.name}"

        def tick() -> None:
            handler(scheduled_event(rule_arn, region=region(), account_id=ACCOUNT_ID))

        period = self.timer_seconds or schedule_period(str(event.properties.get("Schedule", "")))
        self._loop(f"schedule:{logical_id}", tick, period)

    def _queue_url(self, arn: str) -> str:
        for logical_id in self.resources.of_type("AWS::SQS::Queue"):
            if self.resources.attributes.get((logical_id, "Arn")) == arn:
                return self.resources.refs[logical_id]
        raise TemplateError(f"no queue of the template has ARN {arn}")

    def _loop(self, name: str, step: Callable[[], Any], interval: float) -> None:
        loop = BackgroundLoop(name, step, interval, log=self._log)
        loop.start()
        self._loops.append(loop)
