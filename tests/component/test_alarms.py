"""The operator alarms of template.yaml watch metrics the code really emits.

An alarm on a metric name nobody publishes never fires: the failure it guards against would
reach nobody. Each custom-metric alarm's condition is produced here through the handlers, and
the metric is read back from the Embedded Metric Format lines Powertools prints, as CloudWatch
would read them from the function's log.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.component.test_confirmation import AFTER, entrapment
from tests.component.test_escalation import start
from tests.support.harness import load_template
from tests.support.service import Service

NAMESPACE = "LiftAlerts"


def _custom_metric_alarms() -> dict[str, dict[str, Any]]:
    resources = load_template()["Resources"]
    return {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"].get("Namespace") == NAMESPACE
    }


def _metric_filter_metrics() -> set[str]:
    """Metrics the template derives from log lines (API access logs), not emitted by code."""
    return {
        transformation["MetricName"]
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::Logs::MetricFilter"
        for transformation in resource["Properties"]["MetricTransformations"]
        if transformation["MetricNamespace"] == NAMESPACE
    }


def _emitted(output: str) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Metric name -> the dimension sets it was published with, from EMF blobs in the output."""
    emitted: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != NAMESPACE:
                continue
            for dimensions in directive["Dimensions"]:
                values = tuple(sorted((key, str(blob[key])) for key in dimensions))
                for metric in directive["Metrics"]:
                    emitted.setdefault(metric["Name"], set()).add(values)
    return emitted


def _produce_every_alarm_condition(service: Service) -> None:
    # A forged signature.
    assert (
        service.webhook({"object": "whatsapp_business_account", "entry": []}, secret="forged").status == 401
    )
    # A tap on a button of no alert of ours.
    alert = service.send_alert(["+27824537125"])
    payload = service.woosh.tap(alert["messages"][0]["message_id"], 2, post=False)["payload"]
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["button_reply"]["id"] = "nope"
    assert service.webhook(payload).json()["outcomes"] == {"tap_unmatched_unknown_button": 1}
    # A recipient Woosh refuses at send time, and a `failed` status for another.
    service.woosh.fail_next("27831234567", error="invalid_phone")
    failing = service.send_alert(["+27824537125", "+27831234567"])
    service.status(failing["messages"][0]["message_id"], "failed", error_code=131026)
    # An alert nobody answers, through every round.
    unanswered, created = start(service, after_seconds=60, max_rounds=0)
    assert service.run_timer(created + timedelta(seconds=61))["unanswered"] == [unanswered["alert_id"]]
    # An entrapment nobody confirmed the service provider was called for, after every reminder.
    trapped, requested = entrapment(service, ticket_id="EMG-TRAPPED")
    for step in (1, 2, 3):
        service.run_timer(requested + timedelta(seconds=step * AFTER + 1))
    assert service.run_timer(requested + timedelta(seconds=4 * AFTER + 1))["confirmations_missed"] == [
        trapped["alert_id"]
    ]
    service.publish()


def test_every_custom_metric_alarm_watches_a_metric_the_code_emits(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    from_logs = _metric_filter_metrics()
    alarms = {n: a for n, a in _custom_metric_alarms().items() if a["MetricName"] not in from_logs}
    assert len(alarms) >= 4, (
        f"expected the code's alarms (signatures, taps, deliveries, unanswered): {alarms}"
    )
    capsys.readouterr()
    _produce_every_alarm_condition(service)
    emitted = _emitted(capsys.readouterr().out)

    for name, alarm in alarms.items():
        metric = alarm["MetricName"]
        assert metric in emitted, (
            f"{name} watches {metric}, which nothing emitted; emitted: {sorted(emitted)}"
        )
        wanted = tuple(sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions", [])))
        assert wanted in emitted[metric], (
            f"{name}: {metric} emitted with {emitted[metric]}, alarm wants {wanted}"
        )


def test_delivery_failed_alarm_counts_send_time_and_status_failures_alike(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    metric = _custom_metric_alarms()["DeliveryFailedAlarm"]["MetricName"]
    capsys.readouterr()
    service.woosh.fail_next("27831234567", error="invalid_phone")
    service.send_alert(["+27824537125", "+27831234567"])
    service.publish()
    assert metric in _emitted(capsys.readouterr().out), "a failure at send time does not reach the alarm"
    accepted = service.send_alert(["+27824537125"])
    service.status(accepted["messages"][0]["message_id"], "failed", error_code=131026)
    service.publish()
    assert metric in _emitted(capsys.readouterr().out), "a failed status does not reach the alarm"
