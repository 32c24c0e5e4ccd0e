"""Queued reminders, confirmation questions and follow-up texts (SPEC §11, §9, §10).

When the service-wide budget has no slot in time, every kind of message waits in the send
queue instead of failing: the dispatcher sends it later, highest priority first, records it
where its own path would have, once, and drops it when its reason is gone. Through the
handlers with AWS in moto and the stand-in Woosh: what each phone received and in which
order, what GET shows, what was stored and published.

The budget runs at Woosh's real windows with a tiny per-minute limit while messages are
queued (the next slot is a minute away, past every deadline: no slot at once), then at a
hundredth of them so the dispatcher finds every slot free (`budget_frees_up`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lift_alerts.flows import dispatch
from lift_alerts.store import send_queue
from local.woosh.send_api import SentMessage
from tests.robustness.support import inject
from tests.support.budget import budget_frees_up, real_windows
from tests.support.harness import LambdaContext, handler_module
from tests.support.service import Service

TECH, DESK, SUPERVISOR = "27824537125", "27831234567", "27820000001"
MAINTENANCE, ENTRAPMENT = 1, 2


def dispatcher() -> dict[str, Any]:
    return dict(handler_module("dispatcher").lambda_handler({}, LambdaContext(function_name="dispatcher")))


def slots_a_minute(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    real_windows(monkeypatch, per_minute=limit)


@pytest.fixture(autouse=True)
def no_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hold keeps a dispatcher from racing the request that queued an item; these tests
    # run the dispatcher only after that request finished.
    monkeypatch.setattr(send_queue, "HOLD_SECONDS", 0)


def what(message: SentMessage) -> str:
    """What a phone shows of one message: the alert, a reminder, the YES question, or a text."""
    if message.kind == "interactive":
        if [title for _id, title in message.buttons] == ["YES"]:
            return "confirm"
        return "reminder" if "REMINDER" in (message.text or "") else "alert"
    return "text"


def sent_since(service: Service, start: int) -> list[tuple[str, str]]:
    return [(what(m), m.to) for m in service.woosh.sent[start:] if m.accepted]


def timer_in(service: Service, seconds: float) -> dict[str, Any]:
    return service.run_timer(datetime.now(UTC) + timedelta(seconds=seconds))


def message_of(result: dict[str, Any], to: str) -> str:
    return next(str(m["message_id"]) for m in result["messages"] if m["to"] == to)


def test_a_reminder_without_a_slot_is_queued_and_sent_after_the_first_alerts_waiting(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    first = service.send_alert([TECH], escalation={"after_seconds": 1, "max_rounds": 2})  # the one slot
    later = service.post_alert({"ticket_id": "EMG-2", "lift_id": "LIFT-B", "recipients": [DESK]})
    assert later.json()["messages"][0]["status"] == "queued"

    assert timer_in(service, 1.5)["rounds_sent"] == [f"{first['alert_id']}:1"]
    stored = service.stored_alert(first["alert_id"])
    assert stored["reminders"][f"1:{TECH}"]["error"]["code"] == "queued"
    # A round whose message waits is not "all deliveries failed": the next round stays due
    # two waits after creation, not at once, and nothing is published as failed.
    assert stored["due_at"] == stored["created_epoch"] + 2
    assert service.details("Alert Delivery Failed") == []
    assert [e["reason"] for e in service.details("Alert Escalated")] == ["no_response"]
    assert len(service.woosh.sent) == 1

    budget_frees_up(monkeypatch)
    monkeypatch.setattr(dispatch, "BATCH", 1)  # one at a time: the order taken is the order sent
    assert dispatcher()["sent"] == 2
    # The waiting first alert of the other lift goes before the reminder.
    assert sent_since(service, 1) == [("alert", DESK), ("reminder", TECH)]
    reminder = service.woosh.sent[-1]
    assert reminder.text is not None
    assert reminder.text.startswith("REMINDER 1/2")
    assert (
        service.stored_alert(first["alert_id"])["reminders"][f"1:{TECH}"]["message_id"] == reminder.message_id
    )
    # Its mapping is stored like a reminder sent at once: a tap on it matches by context.
    assert service.tap(str(reminder.message_id), MAINTENANCE).status == 200
    answered = service.get_alert(first["alert_id"]).json()
    assert answered["first_response"]["matched_by"] == "context"
    assert answered["escalation"]["rounds_sent"] == 1
    assert dispatcher()["sent"] == 0


def test_an_acknowledgement_and_a_notice_without_a_slot_are_sent_later_exactly_once(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 2)
    service.wrote(DESK)  # DESK's window is open: the notice goes as text
    alert = service.send_alert([TECH, DESK])  # both slots of the minute
    tap = service.tap(message_of(alert, TECH), MAINTENANCE)
    assert tap.status == 200
    service.follow_up()
    assert len(service.woosh.sent) == 2  # neither the acknowledgement nor the notice got a slot
    stored = service.stored_alert(alert["alert_id"])
    (ack,) = stored["acks"].values()
    assert ack["error"]["code"] == "queued"
    assert stored["notices"][f"maintenance:{DESK}"]["error"]["code"] == "queued"

    budget_frees_up(monkeypatch)
    assert dispatcher()["sent"] == 2
    service.follow_up()  # the stream brings the settled entries: nothing is sent again
    assert dispatcher()["sent"] == 0
    texts = {to: [m.text for m in service.woosh.sent[2:] if m.to == to and m.accepted] for to in (TECH, DESK)}
    assert len(texts[TECH]) == len(texts[DESK]) == 1
    assert "EMG-1" in str(texts[TECH][0])
    assert "Maintenance" in str(texts[TECH][0])
    assert "EMG-1" in str(texts[DESK][0])
    assert "Maintenance" in str(texts[DESK][0])
    stored = service.stored_alert(alert["alert_id"])
    by_phone = {m.to: m.message_id for m in service.woosh.sent[2:]}
    assert next(iter(stored["acks"].values()))["message_id"] == by_phone[TECH]
    assert stored["notices"][f"maintenance:{DESK}"]["message_id"] == by_phone[DESK]
    assert service.details("Alert Delivery Failed") == []


def test_waiting_messages_of_every_kind_go_in_the_order_spec_11_gives(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 2)
    service.wrote(DESK)
    trapped = service.send_alert([TECH, DESK])  # both slots of the minute
    assert service.tap(message_of(trapped, TECH), ENTRAPMENT).status == 200
    service.follow_up()  # acknowledgement, notice and two YES questions: all queued
    other = service.post_alert(
        {
            "ticket_id": "EMG-2",
            "lift_id": "LIFT-B",
            "recipients": [SUPERVISOR],
            "escalation": {"after_seconds": 1, "max_rounds": 1},
        }
    )
    assert other.json()["messages"][0]["status"] == "queued"
    assert timer_in(service, 1.5)["rounds_sent"] == [f"{other.json()['alert_id']}:1"]  # queued too
    assert len(service.woosh.sent) == 2

    budget_frees_up(monkeypatch)
    monkeypatch.setattr(dispatch, "BATCH", 1)
    assert dispatcher()["sent"] == 6
    assert (
        sent_since(service, 2)
        == [
            ("alert", SUPERVISOR),  # first alerts
            ("confirm", TECH),  # then entrapment confirmation requests
            ("confirm", DESK),
            ("reminder", SUPERVISOR),  # then reminders and critical messages
            ("text", TECH),  # then acknowledgements and notices
            ("text", DESK),
        ][:6]
        + sent_since(service, 8)
    )
    assert len(service.woosh.sent) == 8
    # The YES questions were recorded like a confirmation step's sends: a YES on one matches.
    question = next(m for m in service.woosh.sent if what(m) == "confirm" and m.to == DESK)
    stored = service.stored_alert(trapped["alert_id"])
    assert stored["confirm_sends"][f"0:{DESK}"]["message_id"] == question.message_id
    assert question.message_id in {str(k) for k in stored["messages"]}
    assert service.details("Alert Delivery Failed") == []  # waiting is no failure


def test_a_record_write_that_fails_once_after_woosh_answered_neither_loses_nor_doubles(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 2)
    alert = service.send_alert([TECH, DESK, SUPERVISOR])
    budget_frees_up(monkeypatch)
    with inject(
        "dynamodb",
        "UpdateItem",
        "InternalServerError",
        times=1,
        match=lambda p: "SET #ledger.#k = :r" in str(p),
    ) as fault:
        assert dispatcher()["sent"] == 1
    assert fault.fired == 1
    assert [m.to for m in service.woosh.sent if m.accepted].count(SUPERVISOR) == 1
    shown = {r["to"]: r for r in service.get_alert(alert["alert_id"]).json()["recipients"]}
    assert shown[SUPERVISOR]["message_id"] == service.woosh.sent[-1].message_id


def test_a_dispatcher_that_dies_between_woosh_answer_and_the_record_sends_it_again_once(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 2)
    service.wrote(DESK)
    alert = service.send_alert([TECH, DESK])
    service.tap(message_of(alert, TECH), MAINTENANCE)
    service.follow_up()  # the acknowledgement and the notice wait
    budget_frees_up(monkeypatch)
    monkeypatch.setattr(dispatch, "LEASE_SECONDS", -1)  # the dead run's lease has expired
    # Every write of the ledger entry fails: the run dies after Woosh accepted the two texts.
    with (
        inject(
            "dynamodb", "UpdateItem", "InternalServerError", match=lambda p: "#ledger.#key = :entry" in str(p)
        ),
        pytest.raises(ClientError, match="injected"),
    ):
        dispatcher()
    assert len([m for m in service.woosh.sent if m.accepted]) == 4
    assert dispatcher()["sent"] == 2  # not lost: sent again (Woosh has no idempotency key)...
    assert dispatcher()["sent"] == 0  # ...once, and recorded once
    stored = service.stored_alert(alert["alert_id"])
    last = {m.to: m.message_id for m in service.woosh.sent}
    assert next(iter(stored["acks"].values()))["message_id"] == last[TECH]
    assert stored["notices"][f"maintenance:{DESK}"]["message_id"] == last[DESK]
    assert len([m for m in service.woosh.sent if m.accepted]) == 6


def test_a_dispatcher_that_dies_after_recording_a_reminder_completes_it_without_sending_again(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    alert = service.send_alert([TECH], escalation={"after_seconds": 1, "max_rounds": 2})
    timer_in(service, 1.5)
    budget_frees_up(monkeypatch)
    monkeypatch.setattr(dispatch, "LEASE_SECONDS", -1)
    with (
        inject("dynamodb", "DeleteItem", "InternalServerError", match=lambda p: "queued#" in str(p)) as fault,
        pytest.raises(ClientError, match="injected"),
    ):
        dispatcher()
    assert fault.fired >= 1
    assert len(service.woosh.sent) == 2
    assert dispatcher()["sent"] == 1  # the retry completes the bookkeeping...
    assert len(service.woosh.sent) == 2  # ...without a second reminder
    reminder = service.woosh.sent[-1]
    stored = service.stored_alert(alert["alert_id"])
    assert stored["messages"][str(reminder.message_id)]["round"] == 1
    assert dispatcher()["sent"] == 0


def test_a_queued_reminder_of_an_alert_answered_meanwhile_is_dropped_and_gone_from_get(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    alert = service.send_alert(
        [TECH], escalation={"after_seconds": 1, "max_rounds": 2, "recipients": [SUPERVISOR]}
    )
    timer_in(service, 1.5)  # reminders to TECH and the supervisor wait
    shown = {r["to"]: r["delivery_status"] for r in service.get_alert(alert["alert_id"]).json()["recipients"]}
    assert shown == {TECH: "accepted", SUPERVISOR: "queued"}
    assert service.tap(message_of(alert, TECH), MAINTENANCE).status == 200

    budget_frees_up(monkeypatch)
    report = dispatcher()
    assert (report["sent"], report["dropped"]) == (0, 2)
    assert [what(m) for m in service.woosh.sent] == ["alert"]  # no reminder after the answer
    view = service.get_alert(alert["alert_id"]).json()
    # The supervisor was never messaged: not listed (never `queued` for ever).
    assert [(r["to"], r["delivery_status"]) for r in view["recipients"]] == [(TECH, "accepted")]
    stored = service.stored_alert(alert["alert_id"])
    assert stored["reminders"][f"1:{TECH}"]["error"] == {"code": "dropped", "title": "alert_answered"}
    assert send_queue.SendQueue(service.table).size() == 0
    assert service.details("Alert Delivery Failed") == []


def test_a_queued_first_alert_of_a_closed_alert_is_dropped_and_shown_not_sent(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    alert = service.send_alert([TECH, DESK])
    assert service.close_alert(alert["alert_id"], {"reason": "false alarm"}).status == 200
    budget_frees_up(monkeypatch)
    assert dispatcher()["dropped"] == 1
    assert [m.to for m in service.woosh.sent] == [TECH]
    shown = {r["to"]: r for r in service.get_alert(alert["alert_id"]).json()["recipients"]}
    assert shown[DESK]["delivery_status"] == "not_sent"
    assert shown[DESK]["message_id"] is None
    assert send_queue.SendQueue(service.table).size() == 0


def test_a_queued_first_alert_of_an_alert_answered_meanwhile_still_goes_out(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    alert = service.send_alert([TECH, DESK])
    assert service.tap(message_of(alert, TECH), MAINTENANCE).status == 200
    budget_frees_up(monkeypatch)
    assert dispatcher()["sent"] == 1
    shown = {r["to"]: r for r in service.get_alert(alert["alert_id"]).json()["recipients"]}
    assert shown[DESK]["delivery_status"] == "accepted"


def test_a_new_queue_item_waits_out_its_hold_and_the_dispatcher_waits_for_it(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send_queue, "HOLD_SECONDS", 2)
    slots_a_minute(monkeypatch, 1)
    service.send_alert([TECH, DESK])
    queue = send_queue.SendQueue(service.table)
    now = int(time.time())
    # Not for a dispatcher yet: the request that queued it may still be recording it as queued.
    assert queue.waiting(limit=1, now=now) == []
    budget_frees_up(monkeypatch)
    started = time.monotonic()
    assert dispatcher()["sent"] == 1  # the run waits the hold out instead of leaving it
    assert time.monotonic() - started < 10
    assert [m.to for m in service.woosh.sent] == [TECH, DESK]


def test_a_queued_critical_message_of_an_alert_answered_meanwhile_is_dropped(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    service.wrote(TECH)  # inside the window: the critical message goes as text
    alert = service.send_alert([TECH], escalation={"after_seconds": 1, "max_rounds": 0})
    assert timer_in(service, 1.5)["unanswered"] == [alert["alert_id"]]
    service.follow_up()  # the critical message waits for a slot
    assert service.stored_alert(alert["alert_id"])["notices"][f"critical:{TECH}"]["error"]["code"] == "queued"
    assert service.tap(message_of(alert, TECH), MAINTENANCE).status == 200  # a late answer
    service.follow_up()  # its acknowledgement waits too

    budget_frees_up(monkeypatch)
    report = dispatcher()
    assert (report["sent"], report["dropped"]) == (1, 1)
    texts = [m.text or "" for m in service.woosh.sent if m.kind == "text"]
    assert len(texts) == 1
    assert "Maintenance" in texts[0]
    assert not any("CRITICAL" in text for text in texts)  # no "immediate action" after the answer
    critical = service.stored_alert(alert["alert_id"])["notices"][f"critical:{TECH}"]
    assert critical["dropped"] == "alert_answered"
    assert critical["message_id"] is None
    assert send_queue.SendQueue(service.table).size() == 0


def test_a_queued_confirmation_question_of_an_alert_closed_meanwhile_is_dropped(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots_a_minute(monkeypatch, 1)
    alert = service.send_alert([TECH])
    assert service.tap(message_of(alert, TECH), ENTRAPMENT).status == 200
    service.follow_up()  # the acknowledgement and the YES question wait
    assert service.stored_alert(alert["alert_id"])["confirm_sends"][f"0:{TECH}"]["error"]["code"] == "queued"
    assert service.close_alert(alert["alert_id"], {"reason": "provider on site"}).status == 200

    budget_frees_up(monkeypatch)
    report = dispatcher()
    assert (report["sent"], report["dropped"]) == (1, 1)  # the acknowledgement goes, the question not
    assert [what(m) for m in service.woosh.sent] == ["alert", "text"]
    stored = service.stored_alert(alert["alert_id"])
    assert stored["confirm_sends"][f"0:{TECH}"]["error"] == {"code": "dropped", "title": "alert_closed"}
    assert send_queue.SendQueue(service.table).size() == 0
