"""The local stack's place in AWS: stack name, region and account, the documented local secret,
and the dummy credentials and boto3 clients every process uses against moto (server or in-process)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3

STACK_NAME = "lift-alerts-local"
DEFAULT_REGION = "af-south-1"
ACCOUNT_ID = "123456789012"  # moto's default account

# The documented local secret (README): never used outside the local stack and tests.
LOCAL_SECRET_VALUES: dict[str, str] = {
    "woosh_api_key": "local-woosh-key",
    "callback_token": "local-callback-token",
    "webhook_secret": "local-webhook-secret",
    "verify_token": "local-verify-token",
}


def region() -> str:
    return os.environ.get("LOCAL_AWS_REGION", DEFAULT_REGION)


def local_aws_environment(endpoint_url: str | None) -> dict[str, str]:
    """What every process talking to the local moto needs (dummy credentials, no real AWS)."""
    env = {
        "AWS_DEFAULT_REGION": region(),
        "AWS_REGION": region(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        # Every function instance of the local stack shares one process and so one client per
        # service (`lift_alerts.platform.aws`): room for all their threads' connections.
        "AWS_CLIENT_POOL_CONNECTIONS": "256",
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


@dataclass
class AwsClients:
    """boto3 clients for moto: `endpoint_url` for moto server, None for in-process `mock_aws`."""

    endpoint_url: str | None
    region_name: str = field(default_factory=region)

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {"region_name": self.region_name}
        if self.endpoint_url:
            kwargs.update(
                endpoint_url=self.endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
            )
        return boto3.client(service, **kwargs)  # type: ignore[call-overload]
