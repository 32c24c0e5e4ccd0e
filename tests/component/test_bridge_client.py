"""The Woosh Bridge client is kept across a container's requests (its connections to the
Bridge are reused), and a rotated API key is used as soon as the secret is read again."""

from __future__ import annotations

import json
import os

import boto3

from lift_alerts.flows import sending
from lift_alerts.platform import secrets
from local.make_events import EXAMPLE_ALERT
from tests.support.harness import LOCAL_SECRET, REGION
from tests.support.service import Service

ALERT = {**EXAMPLE_ALERT, "recipients": ["+27824537125"]}


def test_the_bridge_client_is_kept_and_a_rotated_api_key_reaches_woosh(service: Service) -> None:
    assert service.post_alert(ALERT).status == 201
    kept = sending.woosh_client()
    assert service.post_alert({**ALERT, "ticket_id": "EMG-2"}).status == 201
    assert sending.woosh_client() is kept

    # Woosh issues a new key; the secret gets it. Only the cached secret expires (as after
    # SECRET_MAX_AGE_SECONDS): no reset of anything else.
    service.woosh.api_key = "the-rotated-woosh-key"
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=os.environ["APP_SECRET_ID"],
        SecretString=json.dumps({**LOCAL_SECRET, "woosh_api_key": "the-rotated-woosh-key"}),
    )
    secrets._secrets_provider.cache_clear()

    rotated = service.post_alert({**ALERT, "ticket_id": "EMG-3"})
    assert rotated.status == 201, rotated.json()
    assert [m["status"] for m in rotated.json()["messages"]] == ["accepted"]
    assert sending.woosh_client() is not kept
