"""Event-source pumps: what Lambda's event source mappings and EventBridge schedules would run.

- `stream.StreamPump`: polls a DynamoDB table's stream and hands batches to a handler as
  Lambda's DynamoDB stream event; honours `batchItemFailures` (re-delivers from the first
  failed record) and handler errors (re-delivers the batch) with bounded retries and backoff;
  a batch that exhausts its retries is reported to the on-failure queue, as Lambda does.
- `sqs.SqsPump`: receives from a queue, hands Lambda's SQS event to a handler, deletes what
  succeeded (all, or all but the `batchItemFailures`), lets the rest become visible again.
- `schedule`: the scheduled event EventBridge sends, and `BackgroundLoop`, which runs any
  pump's poll (or a schedule's invocation) every few seconds in a thread of its own.
- `batches`: what they share: the handler type, a pass's `DrainResult`, reading a handler's
  `batchItemFailures`, boto3 clients.

All of them work against moto server or in-process `mock_aws` (unit tests). The one-shot
helpers `drain_stream` and `drain_queue` run synchronously until there is nothing left.
The names are re-exported here: `from local.pumps import StreamPump` is how the tests and the
benchmark reach them.
"""

from local.pumps.batches import DrainResult, Handler, Logger
from local.pumps.schedule import BackgroundLoop, scheduled_event
from local.pumps.sqs import SqsPump, drain_queue
from local.pumps.stream import StreamPump, drain_stream

__all__ = [
    "BackgroundLoop",
    "DrainResult",
    "Handler",
    "Logger",
    "SqsPump",
    "StreamPump",
    "drain_queue",
    "drain_stream",
    "scheduled_event",
]
