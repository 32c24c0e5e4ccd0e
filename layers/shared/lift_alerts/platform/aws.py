"""AWS clients, created lazily once per container and reused across invocations.

boto3 honours AWS_ENDPOINT_URL itself, which is how the tests and the local stack point
every client at moto.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

from lift_alerts.platform.config import number_env, on_reset

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient


@overload
def client(service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(service: Literal["events"]) -> EventBridgeClient: ...
@overload
def client(service: Literal["sqs"]) -> SQSClient: ...
@overload
def client(service: Literal["secretsmanager"]) -> SecretsManagerClient: ...
@overload
def client(service: Literal["cloudwatch"]) -> CloudWatchClient: ...
def client(service: str) -> Any:
    return _client(service)


# One client per service even when a container's threads (its send and store pools) all ask
# at once on their first use: building a boto3 client loads its service model (tens of ms of
# CPU), and `cache` alone would let every thread that missed build its own.
_creating = threading.Lock()


def _client(service: str) -> Any:
    with _creating:
        return _new_client(service)


@cache
def _new_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts and standard retries: a Lambda must answer a webhook within seconds,
    # and a hung connection is worse than a fast, retried failure.
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        # A container's threads (a send's pool of 10, a round's store pool of 8) fit in 32.
        # The Docker-free local stack runs every instance in one process, sharing these
        # clients, and raises it (AWS_CLIENT_POOL_CONNECTIONS): a full pool discards each
        # extra connection after one request, and every new one costs both sides a handshake.
        max_pool_connections=number_env("AWS_CLIENT_POOL_CONNECTIONS", 32, 1, 1024),
    )
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between moto modes)."""
    _new_client.cache_clear()


on_reset(reset_clients)
