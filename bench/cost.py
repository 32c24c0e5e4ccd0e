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
# Meta has charged per delivered message, by category and by the recipient's country calling
# code (+27), since 1 July 2025. Two regimes matter to a deployment made on MESSAGE_FEES_CHECKED:
# - until 2026-09-30: non-template messages (interactive, text) were free, deliverable only inside
#   the person's 24-hour customer-service window; a utility template inside an open window was free;
# - from 2026-10-01: non-template ("service") messages are charged at the market's utility rate
#   (Meta's "non-template messages" pricing page, as quoted by the sources below; several BSPs
#   describe the same date and scope). Whether a monthly free allotment of service messages per
#   number applies is reported differently (one source says 1,000; another calls that a BSP's
#   commercial term, not Meta's): the model charges every message, an upper bound.
MESSAGE_FEES_SOURCE = (
    "Meta rate card for South Africa (+27), list rate tier 1, effective 2026-07-01, as pulled from "
    "Meta's pricing endpoint (https://whatsappbusiness.com/wp-json/wab/v1/pricing) on 2026-09-21 and "
    "quoted with that provenance in a public research note (found with the tool library's code search; "
    "cross-checked there against Twilio's pass-through data); an older undated public table gives the "
    "same marketing and utility rates. Non-template charging from 2026-10-01: Meta (https://developers."
    "facebook.com/documentation/business-messaging/whatsapp/pricing/non-template-messages), "
    "YCloud and ChakraHQ changelogs, WhaTools estimator. Not read from Meta's page on this machine "
    "(no access): confirm on the rate card before quoting."
)
MESSAGE_FEES_CHECKED = "2026-12-02"
MESSAGE_RATES_EFFECTIVE = "2026-07-01"
# USD per delivered message to a +27 number (list rate, first volume tier).
MESSAGE_RATES_ZA: dict[str, float] = {
    "marketing_template": 0.0379,
    "utility_template": 0.0076,
    "authentication_template": 0.0076,
}
# What a message of each kind the service sends costs under each regime.
FEE_REGIMES: dict[str, dict[str, Any]] = {
    "2026-07-01 to 2026-09-30": {
        "utility_template_outside_window": MESSAGE_RATES_ZA["utility_template"],
        "non_template_in_window": 0.0,  # interactive and text: free inside the window
    },
    "from 2026-10-01": {
        "utility_template_outside_window": MESSAGE_RATES_ZA["utility_template"],
        "non_template_in_window": MESSAGE_RATES_ZA["utility_template"],  # service = utility rate
    },
}

# Messages one alert (one recipient, answered at the first round: the cost scenario above) puts
# on WhatsApp, by delivery mode. The acknowledgement of the tap (SPEC 10) is a text sent while
# the person's window is open (they just tapped): a non-template message in every mode.
DELIVERY_MODES: dict[str, dict[str, Any]] = {
    "interactive_only": {
        "describe": "no ALERT_TEMPLATE_NAME: the alert goes as an interactive message (reaches only "
        "people who wrote in the last 24 h; others fail with 131047, which Meta does not bill)",
        "messages": {"non_template_in_window": 2},  # alert + acknowledgement
    },
    "template_only": {
        "describe": "every alert as the approved utility template (the recipient's window is closed, "
        "the usual case for a technician who has not written to the number today)",
        "messages": {"utility_template_outside_window": 1, "non_template_in_window": 1},  # alert + ack
    },
    "template_first_window_closed": {
        "describe": "ALERT_TEMPLATE_NAME set (SPEC 5), the person has not written in 24 h: the template "
        "(as template_only)",
        "messages": {"utility_template_outside_window": 1, "non_template_in_window": 1},
    },
    "template_first_window_open": {
        "describe": "ALERT_TEMPLATE_NAME set, the person wrote in the last 23 h 50 min: buttons as an "
        "interactive message (as interactive_only)",
        "messages": {"non_template_in_window": 2},
    },
}


def message_fees_per_1000(infrastructure_usd: float) -> dict[str, Any]:
    """WhatsApp fees per 1000 alerts by delivery mode and fee regime, beside the infrastructure cost."""
    modes: dict[str, Any] = {}
    for mode, spec in DELIVERY_MODES.items():
        fees = {
            regime: round(1000 * sum(n * prices[kind] for kind, n in spec["messages"].items()), 4)
            for regime, prices in FEE_REGIMES.items()
        }
        modes[mode] = {
            "describe": spec["describe"],
            "messages_per_alert": spec["messages"],
            "whatsapp_fees_usd": fees,
            "infrastructure_usd": infrastructure_usd,
            "fees_to_infrastructure": {
                regime: round(fee / infrastructure_usd, 1) if infrastructure_usd else None
                for regime, fee in fees.items()
            },
        }
    return {
        "source": MESSAGE_FEES_SOURCE,
        "checked": MESSAGE_FEES_CHECKED,
        "rates_effective": MESSAGE_RATES_EFFECTIVE,
        "rates_usd_za": MESSAGE_RATES_ZA,
        "regimes": FEE_REGIMES,
        "modes": modes,
    }
