"""`Idempotency-Key` for POST /alerts (SPEC §4), on Powertools idempotency over the alerts table.

A repeat with the same key and body returns the first answer and sends nothing again; the
same key with another body is 422; a repeat while the first is still running is 409. The
same key and body also name the same alert id, so a retry of an attempt that died half way
(Powertools drops the record on an exception) resumes that alert instead of sending again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from lift_alerts.platform.aws import client
from lift_alerts.platform.http import BadRequest

KEY_TTL_SECONDS = 24 * 3600
_config = IdempotencyConfig(
    event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=KEY_TTL_SECONDS
)

# What the guarded call answers: a JSON-serialisable dict (Powertools stores it as the answer).
Answer = dict[str, Any]


def alert_id_for(key: str, payload: Any) -> str:
    """The alert id a key and body name: the same request always resumes the same alert."""
    canonical = json.dumps(
        {"key": key, "body": payload}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def once(table_name: str, key: str | None, payload: Any, call: Callable[[str | None], Answer]) -> Answer:
    """Run `call(alert_id)` once per key and body; without a key, just run it (alert_id None)."""
    if not key:
        return call(None)
    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="pk", expiry_attr="expires_at", boto3_client=client("dynamodb")
    )

    def run(request: dict[str, Any]) -> Answer:
        return call(alert_id_for(key, payload))

    # Built per call so the persistence layer uses the current client and table.
    guarded = idempotent_function(
        data_keyword_argument="request", config=_config, persistence_store=persistence
    )(run)
    try:
        answer: Answer = guarded(request={"key": key, "body": payload})
    except IdempotencyValidationError as exc:
        raise BadRequest(422, {"message": "Idempotency-Key was used with a different body"}) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise BadRequest(
            409, {"message": "a request with this Idempotency-Key is still being processed"}
        ) from exc
    return answer


def register_lambda_context(context: Any) -> None:
    """Let Powertools expire an in-progress record when this invocation's time runs out."""
    _config.register_lambda_context(context)
