"""Parking: verified updates that AWS could not take now wait in SQS, not on the sender.

Woosh retries a webhook only three times within seconds; an outage of DynamoDB must not
cost a tap. Parked updates are re-processed by the parked function with the same code
(everything it does is idempotent), with its own DLQ and alarm behind it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, TypeAdapter

from lift_alerts.domain.inbound import Ignored, Reply, StatusUpdate, Tap, Update

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_UPDATES = TypeAdapter(list[Annotated[Tap | StatusUpdate | Reply | Ignored, Field(discriminator="kind")]])
_MAX_MESSAGE_BYTES = 200_000  # under SQS's 256 KiB with room for attributes


class ParkingFailed(RuntimeError):
    """Not every update could be parked; the sender must retry."""


def encode(updates: Sequence[Update]) -> list[str]:
    """Updates as SQS message bodies, each under the size limit, keeping their order."""
    bodies: list[str] = []
    current: list[str] = []
    size = 0
    for update in updates:
        encoded = update.model_dump_json()
        if current and size + len(encoded) + 2 > _MAX_MESSAGE_BYTES:
            bodies.append('{"updates":[' + ",".join(current) + "]}")
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 1
    if current:
        bodies.append('{"updates":[' + ",".join(current) + "]}")
    return bodies


def decode(body: str) -> list[Update]:
    return list(_UPDATES.validate_python(json.loads(body)["updates"]))


class ParkingLot:
    def __init__(self, queue_url: str | None, sqs: SQSClient) -> None:
        self._queue_url = queue_url
        self._sqs = sqs

    def park(self, updates: Sequence[Update]) -> int:
        if not updates:
            return 0
        if not self._queue_url:
            raise ParkingFailed("no PARKED_QUEUE_URL configured")
        bodies = encode(updates)
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            response = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": uuid.uuid4().hex, "MessageBody": body} for body in chunk],
            )
            if response.get("Failed"):
                raise ParkingFailed(f"{len(response['Failed'])} parked messages were refused")
        return len(updates)
