"""Parked updates (SQS) -> the same processing as the webhook, once AWS is back."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lift_alerts.flows.apply_updates import Report, process_parked
from lift_alerts.platform.config import get_settings
from lift_alerts.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failures = []
    processed = Report()
    for record in event.get("Records", []):
        report = process_parked(record["body"], get_settings())
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
