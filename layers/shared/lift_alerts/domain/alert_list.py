"""`GET /alerts`'s query (SPEC §13): its parameters, which alerts they select, and the opaque
`next` cursor. Pure.

The cursor says where each partition of the list index stopped (`store.alert_listing`). It is
signed with HMAC-SHA256 under a key only the service holds (the secret named by
CURSOR_SECRET_ID, random per deployment), and bound to the query it was handed out for:
a client can only hand back a cursor this service made for the same filters. Without the
signature a client could send any index key as the place to start, which DynamoDB would
refuse (a 5xx instead of a 400) or treat as a position we never gave out; and clients would
come to depend on what is inside, which may change.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from lift_alerts.domain.alert_request import Identifier, Line

# Which partitions of the list index a state reads (`open`: every state but closed).
STATE_PARTITIONS: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "awaiting_response": ("open",),
    "answered": ("open",),
    "unanswered": ("open",),
    "closed": ("closed",),
    "all": ("open", "closed"),
}
ListState = Literal["open", "all", "awaiting_response", "answered", "unanswered", "closed"]


def _blank_is_absent(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class InvalidCursor(ValueError):
    """A `next` this service did not hand out for this query (altered, forged or another query's)."""


class AlertListRequest(BaseModel):
    """The query string of `GET /alerts` (every value arrives as text)."""

    model_config = ConfigDict(extra="ignore")

    state: ListState = "open"
    site: Annotated[Line | None, BeforeValidator(_blank_is_absent)] = None
    lift_id: Annotated[Identifier | None, BeforeValidator(_blank_is_absent)] = None
    since: Annotated[str | None, BeforeValidator(_blank_is_absent)] = None
    limit: int = Field(default=50, ge=1, le=100)
    next: Annotated[Annotated[str, Field(max_length=4096)] | None, BeforeValidator(_blank_is_absent)] = None

    @field_validator("since")
    @classmethod
    def _iso_8601(cls, value: str | None) -> str | None:
        if value is not None:
            since_epoch(value)
        return value

    @property
    def since_epoch(self) -> int | None:
        return since_epoch(self.since) if self.since is not None else None

    def fingerprint(self) -> str:
        """What a cursor is bound to: the filters (not the page size)."""
        query = {"state": self.state, "site": self.site, "lift_id": self.lift_id, "since": self.since_epoch}
        return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:32]


def since_epoch(text: str) -> int:
    """`since` as whole epoch seconds, rounded up (`created_at` is whole seconds: an alert
    created at 10:30:00 is not "at or after" 10:30:00.5). ValueError unless ISO 8601."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError("must be an ISO 8601 time, e.g. 2024-10-01T10:30:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without an offset is UTC, like every time here
    return math.ceil(moment.timestamp())


def make_cursor(starts: Mapping[str, Any], fingerprint: str, key: bytes) -> str:
    """The opaque, signed `next` for where the next page starts."""
    payload = _b64(json.dumps({"f": fingerprint, "s": dict(starts)}, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_sign(payload, key))}"


def read_cursor(cursor: str, fingerprint: str, key: bytes) -> dict[str, Any]:
    """Where the page starts, from a `next` this service handed out for the same query."""
    payload, _dot, signature = cursor.partition(".")
    try:
        given = _unb64(signature)
        data = json.loads(_unb64(payload))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor("is not a cursor this service handed out") from exc
    if not hmac.compare_digest(given, _sign(payload, key)) or not isinstance(data, dict):
        raise InvalidCursor("is not a cursor this service handed out")
    if data.get("f") != fingerprint:
        raise InvalidCursor("was handed out for another query: repeat the query's filters with it")
    starts = data.get("s")
    if not isinstance(starts, dict):
        raise InvalidCursor("is not a cursor this service handed out")
    return starts


def _sign(payload: str, key: bytes) -> bytes:
    return hmac.new(key, b"alert-list-cursor:" + payload.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
