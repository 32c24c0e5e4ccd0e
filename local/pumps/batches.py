"""What every event-source pump shares: the handler it feeds, the result of a pass over its
source, reading the `batchItemFailures` a handler answers, and boto3 clients for moto."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

Handler = Callable[[dict[str, Any]], Any]
Logger = Callable[[str], None]


def aws_client(service: str, client: Any | None, endpoint_url: str | None, region: str | None) -> Any:
    if client is not None:
        return client
    kwargs: dict[str, Any] = {}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if region:
        kwargs["region_name"] = region
    return boto3.client(service, **kwargs)  # type: ignore[call-overload]


def failed_identifiers(result: Any) -> list[str] | None:
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

    def add(self, other: DrainResult) -> None:
        """Count a later pass in: its sums added, its last sequence number if it has one."""
        self.invocations += other.invocations
        self.records += other.records
        self.retries += other.retries
        self.given_up += other.given_up
        self.errors += other.errors
        self.last_sequence_number = other.last_sequence_number or self.last_sequence_number
