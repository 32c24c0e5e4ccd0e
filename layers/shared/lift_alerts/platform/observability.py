"""Logger, metrics and tracer shared by every function, with personal data masked.

Phone numbers are masked in every log line (the serializer masks any run of 8-17 digits in
every text, key and number of the line), so a handler cannot leak one by accident; message
bodies and secrets are never logged at all.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# A run of 8-17 digits, with or without a leading "+", that is not part of a word, a number
# with a decimal point or a longer run: `(?<![\w.])\+?(\d{2,4})(\d{3,10})(\d{3})(?!\w)`, which
# tests/unit/test_secret_model.py keeps as the reference. Written to begin with a character
# class, so the regex engine skips straight to the next "+" or digit instead of trying the
# lookbehind at every position: every log line passes through it (40% less time per line).
_PHONE = re.compile(r"[+\d](?<![\w.][+\d])(?:(?<=\+)\d{8,17}|(?<=\d)\d{7,16})(?!\w)")


def _masked(match: re.Match[str]) -> str:
    """Keep the first 2-4 digits and the last 3, as many first ones as leave 3 to hide."""
    digits = match.group().lstrip("+")
    shown = min(4, len(digits) - 6)
    return digits[:shown] + "*" * (len(digits) - shown - 3) + digits[-3:]


def mask_phone(value: str | None) -> str | None:
    """'27824537125' -> '2782****125': enough to tell people apart at 3 a.m., not to dial."""
    if value is None:
        return None
    return _PHONE.sub(_masked, value)


# Texts shorter than the shortest maskable run (8 digits) are kept as they are.
_SHORTEST_MASKED = 8
# Most of a line's texts repeat line after line (the function's ARN, its name, the request
# id, the message): each is masked once and looked up after that. Only short texts are kept,
# and the whole cache is dropped when full (a timestamp is new on every line).
_MASKED_TEXTS: dict[str, str] = {}
_CACHED_TEXT_LENGTH = 256
_CACHED_TEXTS = 4096


def _masked_text(text: str) -> str:
    if len(text) < _SHORTEST_MASKED:
        return text
    masked = _MASKED_TEXTS.get(text)
    if masked is None:
        masked = _PHONE.sub(_masked, text)
        if len(text) <= _CACHED_TEXT_LENGTH:
            if len(_MASKED_TEXTS) >= _CACHED_TEXTS:
                _MASKED_TEXTS.clear()
            _MASKED_TEXTS[text] = masked
    return masked


def _masked_number(value: float) -> float | str:
    """A number as JSON writes it, masked: text when it held a phone number (27824537125 is
    logged as "2782****125", still valid JSON), else the number itself."""
    if type(value) is int and -10_000_000 < value < 10_000_000:  # fewer than 8 digits
        return value
    written = int.__repr__(value) if isinstance(value, int) else float.__repr__(value)
    masked = _PHONE.sub(_masked, written)
    return value if masked == written else masked


def _masked_key(key: Any) -> Any:
    if isinstance(key, str):
        return _masked_text(key)
    if isinstance(key, int | float) and not isinstance(key, bool):
        return _masked_number(key)
    return key


def masked_for_log(value: Any) -> Any:
    """`value` with every phone number masked wherever it is: texts, keys and numbers, nested.

    Masked before the line is written as JSON, not after: in the written line a phone number
    after an escaped line break (`\\n27824537125`) follows a letter and would pass unmasked,
    and a masked number (`2782****125` without quotes) would break the line's JSON."""
    if isinstance(value, str):
        return _masked_text(value)
    if isinstance(value, dict):
        return {_masked_key(key): masked_for_log(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [masked_for_log(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _masked_number(value)
    return value  # written by json.dumps's default (str), and masked there


def _masking_serializer(obj: Any) -> str:
    return json.dumps(masked_for_log(obj), default=lambda other: _masked_text(str(other)), ensure_ascii=False)


# No line shows a thread's or a process's name (Powertools writes neither): without these,
# the logging module looks all three up for every record (Python's logging HOWTO, "Optimization").
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

logger = Logger(json_serializer=_masking_serializer)
metrics = Metrics()
tracer = Tracer()


# Powertools' metric set is a plain dict: a step's sends and a batch's wake-ups add metrics
# from several threads, and two adding the same new name at once would lose one value.
_metrics_lock = threading.Lock()


def request_summary(message: str, **fields: Any) -> None:
    """A request's one summary line at INFO: `message` and `fields`, masked like every line.

    Written into the request's metrics document (CloudWatch's embedded metric format, which
    Powertools prints once at the end of every invocation that counted anything) as its
    metadata, which is how Powertools has high-cardinality facts searched beside the metrics:
    one log event per request carries what it counted and what became of it (a canonical log
    line), instead of a second event made by the logging module, which cost a tap a tenth of
    its CPU (bench/NOTES.md, session 10). The line keeps what a logger line would be searched
    by: `level`, `message`, `correlation_id` and `function_request_id`. With metrics off
    (POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV) or nothing counted, no such document is
    printed, and the summary is a logger line instead.
    """
    if not metrics.metric_set or is_metrics_disabled():
        logger.info(message, extra=fields)
        return
    context = logger.get_current_keys()
    summary = {
        "level": "INFO",
        "message": message,
        "correlation_id": context.get("correlation_id"),
        "function_request_id": context.get("function_request_id"),
        **fields,
    }
    for key, value in summary.items():
        metrics.add_metadata(key, masked_for_log(value))


def count(name: str, value: float = 1) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    """A duration as a metric (e.g. how late a timed step ran), for alarms on its maximum."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
