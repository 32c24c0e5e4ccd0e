"""Outages longer than the sender's patience, 1000-update batches, and disagreeing taps."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from tests.robustness.support import (
    assert_taps_published_once,
    inject,
    parked_messages,
    response_events,
    run_parked,
)
from tests.support.service import Service

pytestmark = pytest.mark.robustness

WOOSH_RETRIES = 3  # Woosh Bridge: 3 retries after 1, 2 and 4 seconds, 5 seconds each


def _tap(service: Service, message_id: str, index: int, **kwargs: Any) -> dict[str, Any]:
    return service.woosh.tap(message_id, index, post=False, **kwargs)["payload"]


def _message(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


# -- 3. outage longer than the sender's retries ---------------------------------------------------


@pytest.mark.parametrize("down", ["dynamodb", "events"])
def test_outage_longer_than_the_senders_retries_loses_no_tap(service: Service, down: str) -> None:
    sent = service.send_alert(["+27824537125", "+27831234567", "+27841234567"])
    taps = [_tap(service, line["message_id"], i % 3) for i, line in enumerate(sent["messages"])]
    tap_ids = [_message(t)["id"] for t in taps]
    answers = []
    # Everything AWS: every DynamoDB call fails (or PutEvents, for the bus) for the whole outage.
    with inject(down, None, "ServiceUnavailable") as fault:
        for payload in taps:
            for _attempt in range(1 + WOOSH_RETRIES):  # the first delivery and Woosh's retries
                answer = service.webhook(payload)
                answers.append(answer.status)
                if answer.status == 200:
                    break
        if down == "events":
            with pytest.raises(RuntimeError):
                service.publish()  # the stream keeps the records; Lambda would retry them
    assert fault.fired >= len(taps)
    # Parked, not refused: nothing depends on the sender retrying.
    assert answers == [200] * len(taps)
    if down == "dynamodb":
        assert all(service.stored_alert(sent["alert_id"])[k] == v for k, v in {"responses": []}.items())
        answer = run_parked(service)
        assert answer["records"] >= 1
        assert answer["batchItemFailures"] == []
    else:
        service.pump.reread()  # the event source re-reads the unprocessed records
    assert_taps_published_once(service, tap_ids)
    alert = service.stored_alert(sent["alert_id"])
    assert sorted(r["event_id"] for r in alert["responses"]) == sorted(tap_ids)
    assert sum(1 for e in response_events(service) if e["first_response"]) == 1
    # WhatsApp re-delivers them days later: nothing new.
    for payload in taps:
        assert service.webhook(payload).json()["outcomes"] == {"tap_duplicate": 1}
    assert len(response_events(service)) == len(tap_ids)


def test_parked_updates_still_failing_are_retried_by_sqs(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    payload = _tap(service, sent["messages"][0]["message_id"], 2)
    with inject("dynamodb", None, "ServiceUnavailable"):
        assert service.webhook(payload).json()["parked"] == 1
        messages = parked_messages(service)
        answer = run_parked(service, messages)  # AWS still down: report the record as failed
        assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [messages[0]["MessageId"]]
    assert run_parked(service, messages)["batchItemFailures"] == []
    assert_taps_published_once(service, [_message(payload)["id"]])


# -- 4. batches ------------------------------------------------------------------------------------


def test_a_1000_update_batch_is_processed_completely(service: Service) -> None:
    rng = random.Random(5)
    # Several alerts (each tap grows its alert item, so they are spread like real traffic).
    alerts = [service.send_alert([f"+2782{i:07d}", f"+2783{i:07d}"]) for i in range(25)]
    message_ids = [line["message_id"] for a in alerts for line in a["messages"]]
    messages: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    tap_ids: list[str] = []
    for n in range(1000):
        message_id = rng.choice(message_ids)
        if n % 2 == 0:
            tap = _tap(service, message_id, rng.randrange(3))
            value = tap["entry"][0]["changes"][0]["value"]
            messages.append(value["messages"][0])
            contacts += value["contacts"]
            tap_ids.append(value["messages"][0]["id"])
        else:
            status = rng.choice(["sent", "delivered", "read"])
            statuses.append(
                service.woosh.status(message_id, status, post=False)["payload"]["entry"][0]["changes"][0][
                    "value"
                ]["statuses"][0]
            )
    # One malformed item in the middle of each list, and a duplicate tap.
    messages.insert(250, {"id": 42, "type": ["interactive"], "interactive": "broken"})
    statuses.insert(250, {"id": None, "status": {"no": "pe"}})
    messages.append(copy.deepcopy(messages[0]))
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {"field": "messages", "value": {"contacts": contacts, "messages": messages[:300]}},
                    {"field": "messages", "value": {"statuses": statuses[:300]}},
                ],
            },
            {
                "id": "2",
                "changes": [
                    {"field": "messages", "value": {"contacts": contacts, "messages": messages[300:]}},
                    {"field": "messages", "value": {"statuses": statuses[300:]}},
                ],
            },
        ],
    }
    result = service.webhook(payload)
    assert result.status == 200, result.text
    body = result.json()
    assert body["received"] == 1003
    outcomes = body["outcomes"]
    assert outcomes.get("tap_matched_context") == 500
    assert outcomes.get("tap_duplicate") == 1
    assert outcomes.get("ignored", 0) == 2
    assert outcomes.get("status_recorded", 0) + outcomes.get("status_stale", 0) == 500
    assert body["parked"] == 0
    recorded = {a["alert_id"]: service.stored_alert(a["alert_id"]) for a in alerts}
    assert sorted(r["event_id"] for alert in recorded.values() for r in alert["responses"]) == sorted(tap_ids)
    for alert in recorded.values():
        # Recorded once each (the duplicate too), first_response is responses[0].
        assert len(alert["taps"]) == len(alert["responses"])
        if alert["responses"]:
            assert alert["first_response"] == alert["responses"][0]
    # (Publication of every recorded tap is proven in the fault and race tests; draining
    # ~1000 stream records through moto here would cost a minute of CI.)
    # Statuses only moved forward: the best status seen for each message.
    rank = {"sent": 1, "delivered": 2, "read": 3}
    best: dict[str, str] = {}
    for status in statuses:
        if isinstance(status.get("status"), str):
            current = best.get(status["id"])
            if current is None or rank[status["status"]] > rank[current]:
                best[status["id"]] = status["status"]
    for a in alerts:
        for line in service.get_alert(a["alert_id"]).json()["recipients"]:
            if line["message_id"] in best:
                assert line["delivery_status"] == best[line["message_id"]]


def test_a_batch_whose_second_half_fails_parks_only_that_half(service: Service) -> None:
    a = service.send_alert(["+27824537125"])
    b = service.send_alert(["+27831234567"])
    taps_a = [_tap(service, a["messages"][0]["message_id"], i % 3) for i in range(5)]
    taps_b = [_tap(service, b["messages"][0]["message_id"], i % 3) for i in range(5)]
    merged = {"object": "whatsapp_business_account", "entry": [t["entry"][0] for t in taps_a + taps_b]}

    def only_b(params: dict[str, Any]) -> bool:
        return params.get("Key", {}).get("pk", {}).get("S") == f"alert#{b['alert_id']}"

    with inject("dynamodb", "UpdateItem", "InternalServerError", match=only_b, times=3):
        body = service.webhook(merged).json()
    assert body["outcomes"].get("tap_matched_context") == 5
    assert body["parked"] == 5
    run_parked(service)
    # The retry redid only idempotent work: every tap once, in each alert's own order.
    for alert, taps in ((a, taps_a), (b, taps_b)):
        responses = service.stored_alert(alert["alert_id"])["responses"]
        assert [r["event_id"] for r in responses] == [_message(t)["id"] for t in taps]
    assert_taps_published_once(service, [_message(t)["id"] for t in taps_a + taps_b])


# -- 6. disagreements --------------------------------------------------------------------------


def test_context_and_button_naming_different_alerts_match_by_context(
    service: Service, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    first = service.send_alert(["+27824537125"])
    second = service.send_alert(["+27831234567"])
    payload = _tap(service, first["messages"][0]["message_id"], 2)  # button id names `first`
    _message(payload)["context"]["id"] = second["messages"][0]["message_id"]
    result = service.webhook(payload)
    assert result.json()["outcomes"] == {"tap_matched_context": 1}
    assert service.stored_alert(first["alert_id"])["responses"] == []
    responses = service.stored_alert(second["alert_id"])["responses"]
    assert [(r["event_id"], r["matched_by"], r["choice"]) for r in responses] == [
        (_message(payload)["id"], "context", "entrapment")
    ]
    # Logged and counted.
    assert "tap context and button disagree" in caplog.messages
    assert "TapContextButtonDisagree" in capsys.readouterr().out  # the metric
    (event,) = response_events(service)
    assert event["alert_id"] == second["alert_id"]
    assert event["original_message_id"] == second["messages"][0]["message_id"]


def test_tap_for_an_expired_alert_is_200_and_counted_unmatched(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = service.send_alert(["+27824537125"])
    message_id = sent["messages"][0]["message_id"]
    service.publish()
    # Retention expired: TTL deleted both the alert and its message mapping.
    service.ddb.delete_item(TableName=service.table, Key={"pk": {"S": f"alert#{sent['alert_id']}"}})
    service.ddb.delete_item(TableName=service.table, Key={"pk": {"S": f"msg#{message_id}"}})
    capsys.readouterr()
    for with_context in (True, False):
        payload = _tap(service, message_id, 2, with_context=with_context)
        result = service.webhook(payload)
        assert result.status == 200
        assert result.json()["outcomes"] == {"tap_unmatched_unknown_alert": 1}
    out = capsys.readouterr().out
    assert out.count('"TapUnmatched"') >= 2 or out.count("TapUnmatched") >= 2
    assert response_events(service) == []
    assert (
        service.ddb.get_item(TableName=service.table, Key={"pk": {"S": f"alert#{sent['alert_id']}"}}).get(
            "Item"
        )
        is None
    )


def test_tap_for_an_expired_alert_whose_mapping_survived_is_unmatched(service: Service) -> None:
    sent = service.send_alert(["+27824537125"])
    service.ddb.delete_item(TableName=service.table, Key={"pk": {"S": f"alert#{sent['alert_id']}"}})
    result = service.webhook(_tap(service, sent["messages"][0]["message_id"], 0))
    assert result.status == 200
    assert result.json()["outcomes"] == {"tap_unmatched_unknown_alert": 1}
    assert response_events(service) == []


def test_every_outcome_is_accounted_for(service: Service) -> None:
    """No tap vanishes: received == matched + duplicate + unmatched + ignored, per POST."""
    sent = service.send_alert(["+27824537125"])
    good = _tap(service, sent["messages"][0]["message_id"], 1)
    stray = copy.deepcopy(good)
    _message(stray)["id"] = "wamid.STRAY"
    _message(stray)["interactive"]["button_reply"]["id"] = "la1:" + "0" * 32 + ":test"
    _message(stray)["context"]["id"] = "wamid.UNKNOWN"
    payload = {"object": "whatsapp_business_account", "entry": good["entry"] + stray["entry"] + good["entry"]}
    body = service.webhook(json.loads(json.dumps(payload))).json()
    assert body["received"] == 3
    assert sum(body["outcomes"].values()) + body["parked"] == 3
    assert body["outcomes"] == {
        "tap_matched_context": 1,
        "tap_duplicate": 1,
        "tap_unmatched_unknown_alert": 1,
    }
