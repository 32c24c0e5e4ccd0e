"""Event-source pumps: what Lambda's event source mappings and EventBridge schedules would run.

- `StreamPump`: polls a DynamoDB table's stream and hands batches to a handler as Lambda's
  DynamoDB stream event; honours `batchItemFailures` (re-delivers from the first failed
  record) and handler errors (re-delivers the batch) with bounded retries and backoff;
  a batch that exhausts its retries is reported to the on-failure queue, as Lambda does.
- `SqsPump`: receives from a queue, hands Lambda's SQS event to a handler, deletes what
  succeeded (all, or all but the `batchItemFailures`), lets the rest become visible again.
- `ScheduleRunner`: invokes a handler with a scheduled event every few seconds.

All of them work against moto server or in-process `mock_aws` (unit tests). The one-shot
helpers `drain_stream` and `drain_queue` run synchronously until there is nothing left.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

Handler = Callable[[dict[str, Any]], Any]
_PAGE = 1000  # GetRecords' largest page
Logger = Callable[[str], None]


def _client(service: str, client: Any | None, endpoint_url: str | None, region: str | None) -> Any:
    if client is not None:
        return client
    kwargs: dict[str, Any] = {}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if region:
        kwargs["region_name"] = region
    return boto3.client(service, **kwargs)  # type: ignore[call-overload]


def _failed_identifiers(result: Any) -> list[str] | None:
    """The batchItemFailures identifiers, [] when all succeeded, None when the answer is unusable."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return []
    failures = result.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    identifiers = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return None  # Lambda treats a malformed failure as a failure of the whole batch
        identifiers.append(identifier)
    return identifiers


@dataclass
class DrainResult:
    invocations: int = 0
    records: int = 0
    retries: int = 0
    given_up: int = 0
    last_sequence_number: str | None = None
    errors: list[str] = field(default_factory=list)


class StreamPump:
    """A DynamoDB stream → handler event source mapping (one table)."""

    def __init__(
        self,
        table_name: str,
        handler: Handler,
        *,
        batch_size: int = 100,
        starting_position: str = "LATEST",
        after_sequence_number: str | None = None,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        on_failure_queue_url: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        dynamodb: Any | None = None,
        streams: Any | None = None,
        sqs: Any | None = None,
        log: Logger | None = None,
    ) -> None:
        self.table_name = table_name
        self.handler = handler
        self.batch_size = max(1, min(batch_size, 10_000))
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.on_failure_queue_url = on_failure_queue_url
        self._starting_position = starting_position
        self._after = after_sequence_number
        self._ddb = _client("dynamodb", dynamodb, endpoint_url, region)
        self._streams = _client("dynamodbstreams", streams, endpoint_url, region)
        self._sqs = (
            sqs
            if sqs is not None
            else (_client("sqs", None, endpoint_url, region) if on_failure_queue_url else None)
        )
        self._log = log or (lambda message: None)
        self._region = self._ddb.meta.region_name
        self.stream_arn: str | None = None
        self._iterators: dict[str, str | None] = {}
        self._last_sequence: dict[str, str] = {}
        self._pending: list[dict[str, Any]] = []
        self._attempts = 0
        self._lock = threading.Lock()

    def _open(self) -> None:
        if self.stream_arn is not None:
            return
        table = self._ddb.describe_table(TableName=self.table_name)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise RuntimeError(f"table {self.table_name} has no stream")
        self.stream_arn = arn
        shards = self._streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if self._after:
                self._iterators[shard_id] = self._iterator(shard_id, "AFTER_SEQUENCE_NUMBER", self._after)
            else:
                self._iterators[shard_id] = self._iterator(shard_id, self._starting_position)

    def _iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> str:
        kwargs: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": kind,
        }
        if sequence is not None:
            kwargs["SequenceNumber"] = sequence
        return str(self._streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _fetch(self) -> int:
        """Read every new record of every shard into the pending buffer."""
        fetched = 0
        for shard_id, first_iterator in list(self._iterators.items()):
            iterator = first_iterator
            for _page in range(1000):  # bounded: 1000 pages of up to 1000 records per poll
                if iterator is None:
                    break
                try:
                    answer = self._streams.get_records(ShardIterator=iterator, Limit=_PAGE)
                except self._streams.exceptions.ExpiredIteratorException:
                    last = self._last_sequence.get(shard_id)
                    iterator = (
                        self._iterator(shard_id, "AFTER_SEQUENCE_NUMBER", last)
                        if last
                        else self._iterator(shard_id, "TRIM_HORIZON")
                    )
                    continue
                records = answer.get("Records", [])
                iterator = answer.get("NextShardIterator")
                for record in records:
                    self._pending.append(self._lambda_record(record))
                    self._last_sequence[shard_id] = record["dynamodb"]["SequenceNumber"]
                fetched += len(records)
                if len(records) < _PAGE:
                    break  # moto hands over everything there is: a short page is the end for now
            self._iterators[shard_id] = iterator
        return fetched

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(
                created.replace(tzinfo=created.tzinfo or UTC).timestamp()
            )
        elif created is None:
            dynamodb["ApproximateCreationDateTime"] = int(time.time())
        return {
            "eventID": record.get("eventID") or uuid.uuid4().hex,
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }

    def poll(self, *, sleep: Callable[[float], Any] = time.sleep) -> DrainResult:
        """Fetch new records and deliver everything pending (one pass)."""
        result = DrainResult()
        with self._lock:
            self._open()
            self._fetch()
            for _batch in range(100_000):  # bounded by the records pending
                if not self._pending:
                    break
                self._deliver_one_batch(result, sleep)
            result.last_sequence_number = max(self._last_sequence.values(), default=None, key=int)
        return result

    def _deliver_one_batch(self, result: DrainResult, sleep: Callable[[float], Any]) -> None:
        batch = self._pending[: self.batch_size]
        result.invocations += 1
        try:
            answer = self.handler({"Records": batch})
            failed = _failed_identifiers(answer)
        except Exception as exc:  # the function failed: Lambda retries the whole batch
            result.errors.append(f"{type(exc).__name__}: {exc}")
            self._log(f"stream handler for {self.table_name} raised {type(exc).__name__}: {exc}")
            failed = None
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        if failed == []:
            del self._pending[: len(batch)]
            result.records += len(batch)
            self._attempts = 0
            return
        first_failed = 0
        if failed is not None and all(identifier in sequences for identifier in failed):
            first_failed = min(sequences.index(identifier) for identifier in failed)
        # Records before the first failure are checkpointed; retry from the failure.
        del self._pending[:first_failed]
        result.records += first_failed
        if first_failed:
            self._attempts = 0
        self._attempts += 1
        if self._attempts >= self.max_attempts:
            dropped = batch[first_failed:]
            del self._pending[: len(dropped)]
            result.given_up += len(dropped)
            self._attempts = 0
            self._report_failure(dropped)
            return
        result.retries += 1
        sleep(self.backoff_seconds * (2 ** (self._attempts - 1)))

    def _report_failure(self, records: list[dict[str, Any]]) -> None:
        first, last = records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"]
        self._log(
            f"stream records {first}..{last} of {self.table_name} given up after {self.max_attempts} attempts"
        )
        if self._sqs is None or not self.on_failure_queue_url:
            return
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.max_attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": next(iter(self._iterators), ""),
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "approximateArrivalOfFirstRecord": records[0]["dynamodb"].get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": records[-1]["dynamodb"].get("ApproximateCreationDateTime"),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(message))

    def drain(self, *, max_passes: int = 20, sleep: Callable[[float], Any] = time.sleep) -> DrainResult:
        """Poll until a pass finds nothing new (the handler may itself write to the table)."""
        total = DrainResult()
        for _pass in range(max_passes):
            result = self.poll(sleep=sleep)
            total.invocations += result.invocations
            total.records += result.records
            total.retries += result.retries
            total.given_up += result.given_up
            total.errors += result.errors
            total.last_sequence_number = result.last_sequence_number or total.last_sequence_number
            if result.invocations == 0:
                break
        return total


def drain_stream(
    table_name: str,
    handler: Handler,
    *,
    after_sequence_number: str | None = None,
    batch_size: int = 100,
    max_attempts: int = 3,
    backoff_seconds: float = 0.0,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> DrainResult:
    """Deliver every stream record of `table_name` (from the start, or after a sequence number).

    For repeated use keep a `StreamPump(..., starting_position="TRIM_HORIZON")` and call
    `drain()` on it: it remembers its position. `handler(event)` takes the Lambda event.
    """
    pump = StreamPump(
        table_name,
        handler,
        batch_size=batch_size,
        starting_position="TRIM_HORIZON",
        after_sequence_number=after_sequence_number,
        max_attempts=max_attempts,
        backoff_seconds=backoff_seconds,
        endpoint_url=endpoint_url,
        region=region,
    )
    return pump.drain()


class SqsPump:
    """An SQS queue → handler event source mapping."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        retry_visibility_seconds: int = 2,
        endpoint_url: str | None = None,
        region: str | None = None,
        sqs: Any | None = None,
        log: Logger | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = max(1, min(batch_size, 10))
        self.retry_visibility_seconds = retry_visibility_seconds
        self._sqs = _client("sqs", sqs, endpoint_url, region)
        self._region = self._sqs.meta.region_name
        self._log = log or (lambda message: None)
        self._arn: str | None = None

    @property
    def queue_arn(self) -> str:
        if self._arn is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._arn = str(attributes["Attributes"]["QueueArn"])
        return self._arn

    def poll(self) -> DrainResult:
        result = DrainResult()
        answer = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return result
        records = [self._lambda_record(message) for message in messages]
        result.invocations = 1
        try:
            failed = _failed_identifiers(self.handler({"Records": records}))
        except Exception as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
            self._log(f"queue handler for {self.queue_url} raised {type(exc).__name__}: {exc}")
            failed = None
        ids = [record["messageId"] for record in records]
        if failed is not None and not all(identifier in ids for identifier in failed):
            failed = None
        retry = set(ids) if failed is None else set(failed)
        for message in messages:
            if message["MessageId"] in retry:
                result.retries += 1
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_visibility_seconds,
                )
            else:
                result.records += 1
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return result

    def _lambda_record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            key: value
            for key, value in message.get("Attributes", {}).items()
            if key
            in {
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "MessageGroupId",
                "MessageDeduplicationId",
                "SequenceNumber",
                "AWSTraceHeader",
            }
        }
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }

    def drain(self, *, max_polls: int = 100) -> DrainResult:
        """Poll until the queue has nothing visible (failed messages come back later, not now)."""
        total = DrainResult()
        for _poll in range(max_polls):
            result = self.poll()
            total.invocations += result.invocations
            total.records += result.records
            total.retries += result.retries
            total.errors += result.errors
            if result.invocations == 0:
                break
        return total


def drain_queue(
    queue_url: str,
    handler: Handler,
    *,
    batch_size: int = 10,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> DrainResult:
    return SqsPump(
        queue_url, handler, batch_size=batch_size, endpoint_url=endpoint_url, region=region
    ).drain()


def scheduled_event(rule_arn: str, *, region: str, account_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class BackgroundLoop:
    """Runs `step()` every `interval` seconds in a daemon thread until `stop()`."""

    def __init__(
        self, name: str, step: Callable[[], Any], interval: float, *, log: Logger | None = None
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._log = log or (lambda message: None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._step()
            except Exception as exc:  # keep pumping: a local stack must survive a moto hiccup
                self._log(f"{self.name}: {type(exc).__name__}: {exc}")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
