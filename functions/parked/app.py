"""Parked updates (SQS) -> the same processing as the webhook, once AWS is back."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.clock import utc_now
from lift_alerts.config import get_settings
from lift_alerts.observability import logger, metrics, tracer
from lift_alerts.parking import decode
from lift_alerts.repository import AlertRepository
from lift_alerts.updates import Report, process_updates


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    repo = AlertRepository(settings.alerts_table)
    failures = []
    processed = Report()
    for record in event.get("Records", []):
        report = process_updates(decode(record["body"]), repo, settings, utc_now())
        processed.results += report.results
        if report.failed:
            # Still failing: SQS delivers it again later (everything here is idempotent).
            failures.append({"itemIdentifier": record["messageId"]})
    logger.info(
        "parked updates processed",
        extra={
            "records": len(event.get("Records", [])),
            "retry": len(failures),
            **processed.log_fields(),  # what became of each update (its id, alert, outcome)
        },
    )
    return {"batchItemFailures": failures}
