"""The wake-up queue (SPEC §12): one SQS message per timed step, delayed until the step is due
(`domain.step_timing`), consumed by the escalation function."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lift_alerts.domain.step_timing import WakeUp

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class WakeUpQueue:
    def __init__(self, queue_url: str, sqs: SQSClient) -> None:
        self._queue_url = queue_url
        self._sqs = sqs

    def send(self, wake_up: WakeUp, *, delay_seconds: int) -> None:
        """Send one wake-up (raises what SQS raised: the caller decides what a failure costs)."""
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(wake_up.body(), separators=(",", ":")),
            DelaySeconds=delay_seconds,
        )
