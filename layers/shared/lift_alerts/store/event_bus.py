"""The custom event bus (SPEC §7): events derived from the table's stream (`domain.events`)
put on EventBridge in batches of ten, reporting which the bus did not take."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from lift_alerts.domain import events as detail_types
from lift_alerts.domain.events import Event
from lift_alerts.platform.observability import count, logger

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

_METRIC = {
    detail_types.RESPONSE_RECEIVED: "ResponsePublished",
    detail_types.DELIVERY_FAILED: "DeliveryFailedPublished",
    detail_types.ESCALATED: "AlertEscalated",
    detail_types.UNANSWERED: "AlertUnanswered",  # an operator alarm watches this one
    detail_types.MESSAGE_RECEIVED: "ReplyPublished",
    detail_types.PROVIDER_CONFIRMED: "ProviderConfirmed",
    detail_types.CONFIRMATION_MISSED: "ConfirmationMissed",  # an operator alarm watches this one
}


class EventPublisher:
    """PutEvents in batches of ten; reports which events the bus did not take."""

    def __init__(self, bus_name: str, events_client: EventBridgeClient) -> None:
        self._bus = bus_name
        self._client = events_client

    def publish(self, events: list[Event]) -> set[str]:
        failed: set[str] = set()
        for start in range(0, len(events), 10):
            chunk = events[start : start + 10]
            entries = [
                {
                    "Source": detail_types.SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.detail, ensure_ascii=False),
                    "EventBusName": self._bus,
                }
                for event in chunk
            ]
            try:
                response = self._client.put_events(Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as exc:
                logger.warning("PutEvents failed", extra={"error": type(exc).__name__, "events": len(chunk)})
                failed.update(event.event_id for event in chunk)
                continue
            if response.get("FailedEntryCount", 0):
                for event, result in zip(chunk, response["Entries"], strict=False):
                    if result.get("ErrorCode"):
                        failed.add(event.event_id)
                        logger.warning(
                            "event not accepted by the bus",
                            extra={"event_id": event.event_id, "error_code": result.get("ErrorCode")},
                        )
        for event in events:
            if event.event_id not in failed:
                count(_METRIC[event.detail_type])
        return failed
