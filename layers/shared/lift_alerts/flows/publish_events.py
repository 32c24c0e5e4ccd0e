"""The publisher's side of the outbox: DynamoDB stream records in, events on the bus out."""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.events import Event, events_for_change
from lift_alerts.platform.aws import client
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import logger
from lift_alerts.store.alerts import alert_from_item, is_alert_item
from lift_alerts.store.event_bus import EventPublisher


def publish_stream(records: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """The publisher function's work for one batch of the table's stream."""
    return publish_stream_records(records, EventPublisher(settings.event_bus_name, client("events")))


def publish_stream_records(records: list[dict[str, Any]], publisher: EventPublisher) -> dict[str, Any]:
    """Publish the events of a batch of stream records, in order.

    Returns Lambda's partial-batch answer: on a failure, the first record whose events the
    bus did not take, so Lambda re-delivers from there (earlier records are done).
    """
    per_record: list[tuple[dict[str, Any], list[Event]]] = []
    for record in records:
        image = record.get("dynamodb", {})
        new = alert_from_item(image["NewImage"]) if "NewImage" in image else None
        old = alert_from_item(image["OldImage"]) if "OldImage" in image else None
        if (new is None or not is_alert_item(new)) and (old is None or not is_alert_item(old)):
            per_record.append((record, []))
            continue
        per_record.append((record, events_for_change(old, new)))
    events = [event for _record, record_events in per_record for event in record_events]
    if not events:
        return {"batchItemFailures": []}
    failed = publisher.publish(events)
    for record, record_events in per_record:
        if any(event.event_id in failed for event in record_events):
            sequence = record.get("dynamodb", {}).get("SequenceNumber")
            logger.warning("stream record will be retried", extra={"sequence_number": sequence})
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    logger.info("events published", extra={"events": len(events), "records": len(records)})
    return {"batchItemFailures": []}
