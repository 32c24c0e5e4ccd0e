"""GET /alerts and the desk's /desk/api/alerts (SPEC §13): what the rescue desk sees in its list."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lift_alerts.platform.aws import client
from tests.support.service import Service

TECH = "27824537125"
DESK = "27831234567"
START = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Alerts created a minute apart (the first at START), so "newest first" has an answer."""
    times = [START - timedelta(minutes=1)]

    def now() -> datetime:
        times[0] += timedelta(minutes=1)
        return times[0]

    monkeypatch.setattr("lift_alerts.flows.create_alert.utc_now", now)
    return times


@pytest.fixture
def operations() -> Iterator[list[dict[str, Any]]]:
    """Every DynamoDB call the service makes, with its parameters (a botocore hook on its client)."""
    calls: list[dict[str, Any]] = []

    def record(model: Any, params: dict[str, Any], **_kwargs: Any) -> None:
        calls.append({"operation": model.name, **params})

    events = client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", record)
    yield calls
    events.unregister("before-parameter-build.dynamodb", record)


def send(service: Service, ticket: str, **fields: Any) -> str:
    body = service.send_alert([TECH, DESK], ticket_id=ticket, **fields)
    return str(body["alert_id"])


def listed(service: Service, **query: str) -> dict[str, Any]:
    result = service.list_alerts(**query)
    assert result.status == 200, result.text
    assert result.headers.get("Cache-Control") == "no-store"
    return dict(result.json())


def tickets(answer: dict[str, Any]) -> list[str]:
    return [alert["ticket_id"] for alert in answer["alerts"]]


def test_open_alerts_newest_first_each_with_its_summary(service: Service, clock: list[datetime]) -> None:
    first = send(service, "EMG-1")
    send(service, "EMG-2", site="Rosebank Mall", lift_id="LIFT-B", floor="G")
    closed = send(service, "EMG-3")
    service.close_alert(closed)
    service.status(service.get_alert(first).json()["recipients"][0]["message_id"], "read")

    answer = listed(service)

    assert tickets(answer) == ["EMG-2", "EMG-1"]  # open (the default): closed EMG-3 is left out
    assert answer["next"] is None
    summary = answer["alerts"][1]
    assert summary == {
        "alert_id": first,
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "site": "Sandton Office Park",
        "floor": "3",
        "state": "awaiting_response",
        "outcome": None,
        "created_at": "2026-03-01T18:00:00Z",
        "first_response": None,
        "rounds_sent": 0,
        "next_due_at": "2026-03-01T18:02:00Z",
        "confirmation": None,
        "deliveries": {
            "recipients": 2,
            "queued": 0,
            "accepted": 1,
            "sent": 0,
            "delivered": 0,
            "read": 1,
            "failed": 0,
        },
    }


def test_the_desk_route_answers_the_same_list(service: Service, clock: list[datetime]) -> None:
    send(service, "EMG-1")
    assert service.list_alerts("/desk/api/alerts").json() == service.list_alerts("/alerts").json()


def test_each_state_and_all(service: Service, clock: list[datetime]) -> None:
    waiting = send(service, "WAITING")
    answered = send(service, "ANSWERED")
    send(service, "UNANSWERED", escalation={"after_seconds": 1, "max_rounds": 0})
    closed = send(service, "CLOSED")
    message = service.get_alert(answered).json()["recipients"][0]["message_id"]
    assert service.tap(message, 2).status == 200  # Entrapment
    service.run_timer(START + timedelta(hours=1))  # UNANSWERED's one wait is long over
    service.close_alert(closed)

    assert tickets(listed(service)) == ["UNANSWERED", "ANSWERED", "WAITING"]
    assert tickets(listed(service, state="awaiting_response")) == ["WAITING"]
    assert tickets(listed(service, state="answered")) == ["ANSWERED"]
    assert tickets(listed(service, state="unanswered")) == ["UNANSWERED"]
    assert tickets(listed(service, state="closed")) == ["CLOSED"]
    assert tickets(listed(service, state="all")) == ["CLOSED", "UNANSWERED", "ANSWERED", "WAITING"]
    answered_summary = listed(service, state="answered")["alerts"][0]
    assert answered_summary["outcome"] == "entrapment"
    assert answered_summary["first_response"]["choice"] == "entrapment"
    assert {a["alert_id"]: a["state"] for a in listed(service, state="all")["alerts"]}[waiting] == (
        "awaiting_response"
    )


def test_site_lift_and_since_filters(service: Service, clock: list[datetime]) -> None:
    send(service, "A1", site="Sandton Office Park", lift_id="LIFT-A")  # 18:00
    send(service, "B1", site="Rosebank Mall", lift_id="LIFT-A")  # 18:01
    send(service, "A2", site="Sandton Office Park", lift_id="LIFT-B")  # 18:02

    assert tickets(listed(service, site="Sandton Office Park")) == ["A2", "A1"]
    assert tickets(listed(service, lift_id="LIFT-A")) == ["B1", "A1"]
    assert tickets(listed(service, site="Sandton Office Park", lift_id="LIFT-A")) == ["A1"]
    assert tickets(listed(service, since="2026-03-01T18:01:00Z")) == ["A2", "B1"]
    # At or after: 18:00:30 leaves the 18:00:00 alert out; an offset is read as such.
    assert tickets(listed(service, since="2026-03-01T20:00:30+02:00")) == ["A2", "B1"]
    assert tickets(listed(service, site="Nowhere")) == []


def test_paging_with_next_over_open_and_closed_alerts(service: Service, clock: list[datetime]) -> None:
    ids = [send(service, f"EMG-{n}") for n in range(7)]
    for alert_id in ids[1::2]:  # 1, 3, 5 closed: "all" merges both partitions of the index
        service.close_alert(alert_id)

    seen: list[str] = []
    query = {"state": "all", "limit": "2"}
    pages = 0
    while True:
        answer = listed(service, **query)
        pages += 1
        assert len(answer["alerts"]) <= 2
        seen += tickets(answer)
        if answer["next"] is None:
            break
        query = {"state": "all", "limit": "2", "next": answer["next"]}
    assert seen == [f"EMG-{n}" for n in reversed(range(7))]
    assert pages == 4

    open_pages = [listed(service, limit="3")]
    open_pages.append(listed(service, limit="3", next=open_pages[0]["next"]))
    assert [tickets(page) for page in open_pages] == [["EMG-6", "EMG-4", "EMG-2"], ["EMG-0"]]
    assert open_pages[1]["next"] is None


def test_a_narrow_filter_pages_too(service: Service, clock: list[datetime]) -> None:
    for n in range(6):
        send(service, f"EMG-{n}", site="Rosebank Mall" if n % 3 == 0 else "Sandton Office Park")
    first = listed(service, site="Rosebank Mall", limit="1")
    second = listed(service, site="Rosebank Mall", limit="1", next=first["next"])
    assert tickets(first) + tickets(second) == ["EMG-3", "EMG-0"]
    assert (
        second["next"] is None or listed(service, site="Rosebank Mall", next=second["next"])["alerts"] == []
    )


def test_the_list_is_served_from_its_index_never_a_scan(
    service: Service, clock: list[datetime], operations: list[dict[str, Any]]
) -> None:
    for n in range(3):
        send(service, f"EMG-{n}")
    operations.clear()

    for query in ({}, {"state": "all"}, {"state": "closed"}, {"state": "answered", "site": "X"}):
        assert service.list_alerts(**query).status == 200

    names = [call["operation"] for call in operations]
    assert "Scan" not in names
    queries = [call for call in operations if call["operation"] == "Query"]
    assert queries
    assert {call["IndexName"] for call in queries} == {"AlertListIndex"}
    assert all(call["ScanIndexForward"] is False for call in queries)
    # The page's alerts and their messages: two BatchGetItem per page, eventually consistent.
    batches = [call for call in operations if call["operation"] == "BatchGetItem"]
    assert all(not request["ConsistentRead"] for call in batches for request in call["RequestItems"].values())


def test_the_open_list_reads_no_closed_alert(
    service: Service, clock: list[datetime], operations: list[dict[str, Any]]
) -> None:
    ids = [send(service, f"EMG-{n}") for n in range(5)]
    for alert_id in ids[:4]:
        service.close_alert(alert_id)
    operations.clear()

    assert tickets(listed(service)) == ["EMG-4"]

    (query,) = [call for call in operations if call["operation"] == "Query"]
    assert query["ExpressionAttributeValues"][":part"] == {"S": "open"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "opened"}, "state"),
        ({"state": "open,closed"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-13-01T00:00:00Z"}, "since"),
        ({"next": "not-a-cursor"}, "next"),
        ({"next": "eyJmIjoiIn0.AAAA"}, "next"),
        ({"lift_id": "x" * 65}, "lift_id"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(service: Service, query: dict[str, str], field: str) -> None:
    result = service.list_alerts(**query)
    assert result.status == 400, result.text
    assert [error["field"] for error in result.json()["errors"]] == [field]


def test_a_cursor_altered_forged_or_of_another_query_is_refused(
    service: Service, clock: list[datetime]
) -> None:
    for n in range(3):
        send(service, f"EMG-{n}")
    cursor = listed(service, limit="1")["next"]
    assert listed(service, limit="1", next=cursor)["alerts"]  # as handed out: fine

    payload, signature = cursor.split(".")
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    # The next page "from" another position: the signature no longer matches.
    altered = base64.urlsafe_b64encode(data.replace(b'"created_epoch":', b'"created_epoch":1')).decode()
    forged = cursor[:-4] + ("AAAA" if not cursor.endswith("AAAA") else "BBBB")
    for bad in (f"{altered.rstrip('=')}.{signature}", forged, f"{payload}.", f".{signature}"):
        result = service.list_alerts(limit="1", next=bad)
        assert result.status == 400, bad
        assert result.json()["errors"][0]["field"] == "next"
    # A cursor of the open list handed to another query: refused too, saying so.
    other = service.list_alerts(limit="1", state="all", next=cursor)
    assert other.status == 400
    assert "another query" in other.json()["errors"][0]["message"]


def test_a_route_of_the_list_answers_405_to_other_methods(service: Service) -> None:
    result = service.desk("POST", "/desk/api/alerts")
    assert result.status == 405
    assert result.headers["Allow"] == "GET"
