"""An SQS queue → handler event source mapping, as Lambda runs it."""

from __future__ import annotations

import hashlib
from typing import Any

from local.pumps.batches import DrainResult, Handler, Logger, aws_client, failed_identifiers


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
        self._sqs = aws_client("sqs", sqs, endpoint_url, region)
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
            failed = failed_identifiers(self.handler({"Records": records}))
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
            total.add(result)
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
