"""A DynamoDB stream → handler event source mapping, as Lambda runs it (one table)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.pumps.batches import DrainResult, Handler, Logger, aws_client, failed_identifiers

_PAGE = 1000  # GetRecords' largest page


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
        self._ddb = aws_client("dynamodb", dynamodb, endpoint_url, region)
        self._streams = aws_client("dynamodbstreams", streams, endpoint_url, region)
        self._sqs = (
            sqs
            if sqs is not None
            else (aws_client("sqs", None, endpoint_url, region) if on_failure_queue_url else None)
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
            failed = failed_identifiers(answer)
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
            total.add(result)
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
