"""af-south-1 list prices and the cost model (per 1000 alerts)."""

from __future__ import annotations

from typing import Any

PRICES_DATE = "2026-11-24"
# USD, af-south-1 (Africa, Cape Town), public list prices, first tier, no free tier.
# Recorded from the AWS pricing pages as known on PRICES_DATE; this machine has no access to
# the AWS Price List API, so check them there before quoting (`aws pricing get-products`).
PRICES: dict[str, tuple[float, str, str]] = {
    "http_api_request": (1.51e-6, "$1.51 per million", "API Gateway HTTP API requests (first 300M)"),
    "lambda_request": (0.28e-6, "$0.28 per million", "Lambda requests"),
    "lambda_gb_s_arm64": (0.0000176800, "$0.0000176800 per GB-s", "Lambda duration, arm64"),
    "ddb_wru": (0.7135e-6, "$0.7135 per million", "DynamoDB on-demand write request units"),
    "ddb_rru": (0.1427e-6, "$0.1427 per million", "DynamoDB on-demand read request units"),
    "eventbridge_event": (1.00e-6, "$1.00 per million", "EventBridge custom events (64 KB chunks)"),
    "eventbridge_api_destination": (0.20e-6, "$0.20 per million", "EventBridge API destination calls"),
    "sqs_request": (0.40e-6, "$0.40 per million", "SQS standard requests (parking only)"),
    "secrets_api_call": (0.05e-4, "$0.05 per 10,000", "Secrets Manager API calls"),
    "logs_ingest_gb": (0.66, "$0.66 per GB", "CloudWatch Logs ingestion (standard)"),
}

# Assumptions of the model (stated in RESULTS.md).
AWS_LATENCY_S = 0.010  # added per counted AWS request (in-region round trip)
WOOSH_LATENCY_S = 0.300  # per send round (recipients are sent in parallel)
COLD_FRACTION = {"send": 1.0, "webhook": 0.25, "publisher": 0.25}  # share of invocations that are cold
SECRET_CALLS_PER_ALERT = 0.1  # cached 300 s per container: ~1 call per 10 alerts at low traffic


def cost_per_1000(
    *,
    per_alert: dict[str, float],
    durations: dict[str, float],
    init_seconds: dict[str, float],
    memory_gb: float,
) -> dict[str, Any]:
    """per_alert: http_requests, invocations_<fn>, calls, wru, rru, events, log_bytes, sqs."""
    lines: dict[str, float] = {}
    lines["http_api"] = per_alert["http_requests"] * PRICES["http_api_request"][0]
    invocations = {fn: per_alert.get(f"invocations_{fn}", 0.0) for fn in ("send", "webhook", "publisher")}
    lines["lambda_requests"] = sum(invocations.values()) * PRICES["lambda_request"][0]
    gb_s = 0.0
    for fn, count in invocations.items():
        billed = durations.get(fn, 0.0) + COLD_FRACTION[fn] * init_seconds.get(fn, 0.0)
        gb_s += count * billed * memory_gb
    lines["lambda_gb_s"] = gb_s * PRICES["lambda_gb_s_arm64"][0]
    lines["dynamodb_writes"] = per_alert["wru"] * PRICES["ddb_wru"][0]
    lines["dynamodb_reads"] = per_alert["rru"] * PRICES["ddb_rru"][0]
    lines["eventbridge_events"] = per_alert["events"] * PRICES["eventbridge_event"][0]
    lines["eventbridge_api_destination"] = per_alert["events"] * PRICES["eventbridge_api_destination"][0]
    lines["sqs"] = per_alert.get("sqs", 0.0) * PRICES["sqs_request"][0]
    lines["secrets_manager"] = SECRET_CALLS_PER_ALERT * PRICES["secrets_api_call"][0]
    lines["cloudwatch_logs"] = per_alert["log_bytes"] / 1e9 * PRICES["logs_ingest_gb"][0]
    per_1000 = {k: round(v * 1000, 6) for k, v in lines.items()}
    return {
        "total_usd": round(sum(lines.values()) * 1000, 5),
        "lines_usd": per_1000,
        "gb_s_per_alert": round(gb_s, 5),
    }


# WhatsApp's own fees (Meta bills them through the Bridge; a BSP may add its own fee on top).
# Meta has charged per delivered *template* message since 1 July 2025: non-template messages
# (interactive, text) are free but can only be delivered inside the person's 24-hour
# customer-service window, and a utility template delivered inside an open window is free too.
# Rates depend on the template's category and the recipient's country calling code (+27).
MESSAGE_FEES_SOURCE = (
    "Meta, 'Pricing on the WhatsApp Business Platform' "
    "(https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing), rate card by market"
)
MESSAGE_FEES_CHECKED = "2026-12-02"
# USD per delivered message to a +27 number, or None when no dated figure was found. The
# bench machine cannot reach Meta's rate card and the stored copies of public pages searched on
# MESSAGE_FEES_CHECKED held no dated South Africa row, so no rate is filled in rather than a
# guessed one: fill these from the rate card (with its effective date) before quoting totals.
MESSAGE_RATES_ZA: dict[str, float | None] = {
    "marketing_template": None,
    "utility_template": None,
    "authentication_template": None,
    "service_free_form_in_window": 0.0,  # non-template messages: free since 2025-07-01 (Meta)
}
MESSAGE_RATES_EFFECTIVE: str | None = None

# Messages one alert (one recipient, answered at the first round: the cost scenario above) puts
# on WhatsApp, by delivery mode. The acknowledgement of the tap (SPEC 10) is a text sent while
# the person's window is open (they just tapped), so it is a free service message in every mode.
DELIVERY_MODES: dict[str, dict[str, Any]] = {
    "interactive_only": {
        "describe": "no ALERT_TEMPLATE_NAME: the alert goes as an interactive message (reaches only "
        "people who wrote in the last 24 h; others fail with 131047)",
        "messages": {"service_free_form_in_window": 2},  # alert + acknowledgement
    },
    "template_only": {
        "describe": "every alert as the approved utility template (the recipient's window is closed, "
        "the usual case for a technician who has not written to the number today)",
        "messages": {"utility_template": 1, "service_free_form_in_window": 1},  # alert + ack
    },
    "template_first": {
        "describe": "ALERT_TEMPLATE_NAME set (SPEC 5): interactive when the window is open, the template "
        "otherwise and as the 131047 fallback; priced here for a closed window (an undelivered "
        "interactive is not billed), so it equals template_only; with the window open it equals "
        "interactive_only",
        "messages": {"utility_template": 1, "service_free_form_in_window": 1},
    },
}


def message_fees_per_1000(infrastructure_usd: float) -> dict[str, Any]:
    """WhatsApp fees per 1000 alerts by delivery mode, beside the infrastructure cost."""
    modes: dict[str, Any] = {}
    for mode, spec in DELIVERY_MODES.items():
        rates = [MESSAGE_RATES_ZA[kind] for kind in spec["messages"]]
        known = all(rate is not None for rate in rates)
        fees = (
            round(1000 * sum(n * (MESSAGE_RATES_ZA[kind] or 0.0) for kind, n in spec["messages"].items()), 4)
            if known
            else None
        )
        modes[mode] = {
            "describe": spec["describe"],
            "messages_per_alert": spec["messages"],
            "whatsapp_fees_usd": fees,
            "infrastructure_usd": infrastructure_usd,
        }
    return {
        "source": MESSAGE_FEES_SOURCE,
        "checked": MESSAGE_FEES_CHECKED,
        "rates_effective": MESSAGE_RATES_EFFECTIVE,
        "rates_usd_za": MESSAGE_RATES_ZA,
        "modes": modes,
    }
