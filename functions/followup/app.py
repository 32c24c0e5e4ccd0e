"""Follow-up: the table's stream -> messages a recorded fact calls for (SPEC §5 template
fallback; SPEC §10 acknowledgements, outcome notices, critical messages)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows.follow_up import follow_up_stream_record
from lift_alerts.flows.sending import sending_function_configuration
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.observability import logger, metrics, tracer

# Read at init: a configuration error (an unknown ALERT_TEMPLATE_PARAMS name or DISPLAY_TIMEZONE,
# a missing variable) fails the cold start, naming it, instead of every follow-up. Cached;
# tests reset it.
sending_function_configuration()

# A failed record is reported (ReportBatchItemFailures) and retried from there by Lambda;
# what it already sent is recorded on the alert, so the retry does not send it again.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def handle_record(record: DynamoDBRecord) -> list[str]:
    done = follow_up_stream_record(record.raw_event, get_settings())
    if done:
        logger.info("follow-ups done", extra={"done": done})
    return done


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
