"""People in the loop (SPEC §10): acknowledgements, outcome notices, critical messages.

Through the handlers with AWS in moto and Woosh on loopback: what each phone received (and
on which channel), what GET shows, what reached the bus. Every one of these messages goes
from the follow-up function, never from the webhook's answer path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.service import Service

TECH = "27824537125"
COLLEAGUE = "27831234567"
SUPERVISOR = "27820000001"
HOUR = 3600


def texts_to(service: Service, to: str) -> list[str]:
    """What a phone received besides the alert itself: text notices and notice templates."""
    received = []
    for message in service.woosh.sent:
        if message.to != to or not message.accepted or message.kind == "interactive":
            continue
        if message.kind == "template":
            template = message.body["template"]
            params = [
                p["text"] for c in template["components"] if c["type"] == "body" for p in c["parameters"]
            ]
            received.append(f"[{template['name']}] {' '.join(params)}")
        else:
            received.append(str(message.text))
    return received


def alert_message(service: Service, alert: dict[str, Any], to: str) -> str:
    return next(str(m["message_id"]) for m in alert["messages"] if m["to"] == to)


def replay(service: Service, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Deliver a stream record (old -> new image of an alert) to the follow-up function again."""
    from lift_alerts.flows.follow_up import follow_up_record
    from lift_alerts.flows.follow_up_sends import FollowUpContext
    from lift_alerts.flows.sending import woosh_client
    from lift_alerts.platform.config import get_settings
    from lift_alerts.store.codec import to_item
    from lift_alerts.store.repositories import Repositories

    ctx = FollowUpContext(Repositories.of(service.table), woosh_client, get_settings(), datetime.now(UTC))
    return follow_up_record({"dynamodb": {"OldImage": to_item(old), "NewImage": to_item(new)}}, ctx)


@pytest.fixture
def notice_template(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("NOTICE_TEMPLATE_NAME", "lift_notice")
    get_settings.cache_clear()
    return service


def three_people_alert(service: Service) -> dict[str, Any]:
    """TECH and COLLEAGUE get the alert; SUPERVISOR is reminded in round 1. All wrote today."""
    for phone in (TECH, COLLEAGUE, SUPERVISOR):
        service.wrote(phone, seconds_ago=HOUR)
    alert = service.send_alert(
        [TECH, COLLEAGUE], escalation={"after_seconds": 60, "max_rounds": 2, "recipients": [SUPERVISOR]}
    )
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert service.run_timer(later)["rounds_sent"] == [f"{alert['alert_id']}:1"]
    service.events()
    return alert


def test_a_tap_gets_exactly_one_acknowledgement_however_often_it_arrives(service: Service) -> None:
    alert = service.send_alert([TECH])
    payload = service.woosh.tap(alert_message(service, alert, TECH), 1, name="John Smith", post=False)[
        "payload"
    ]
    for _ in range(3):  # the Bridge's dispatcher retries, Meta repeats
        assert service.webhook(payload).status == 200
    service.events()
    stored = service.stored_alert(alert["alert_id"])
    # The stream record delivered again (Lambda retries a batch): nothing is sent again.
    replay(service, {**stored, "responses": []}, stored)
    replay(service, {**stored, "responses": []}, stored)
    assert texts_to(service, TECH) == [
        "Recorded: Maintenance for ticket EMG-1 (Sandton Office Park, LIFT-A, floor 3)."
    ]
    [ack] = [m for m in service.woosh.sent if m.kind == "text"]
    assert ack.body == {"to": TECH, "text": ack.text}  # Woosh's {to, text} (SPEC §5)
    assert list(service.stored_alert(alert["alert_id"])["acks"]) == [stored["responses"][0]["event_id"]]


def test_first_answer_notifies_everyone_else_messaged_and_only_a_rising_outcome_again(
    service: Service,
) -> None:
    alert = three_people_alert(service)
    before = {phone: len(texts_to(service, phone)) for phone in (TECH, COLLEAGUE, SUPERVISOR)}
    assert before == {TECH: 0, COLLEAGUE: 0, SUPERVISOR: 0}

    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")  # Maintenance
    service.events()
    notice = texts_to(service, COLLEAGUE)
    assert len(notice) == 1
    assert notice[0].startswith(
        "Ticket EMG-1 at Sandton Office Park, LIFT-A, floor 3: answered by John Smith: "
    )
    assert notice[0].endswith(" SAST.")
    assert "Maintenance" in notice[0]
    assert texts_to(service, SUPERVISOR) == notice  # reminded in round 1: told too
    assert texts_to(service, TECH) == [
        "Recorded: Maintenance for ticket EMG-1 (Sandton Office Park, LIFT-A, floor 3)."
    ]

    service.tap(alert_message(service, alert, COLLEAGUE), 0, name="Thandi")  # Test: no rise
    service.events()
    assert len(texts_to(service, TECH)) == 1
    assert len(texts_to(service, SUPERVISOR)) == 1
    late_ack = texts_to(service, COLLEAGUE)[-1]
    assert late_ack.startswith("Recorded: Test for ticket EMG-1")
    assert "John Smith answered first: Maintenance at " in late_ack
    assert late_ack.endswith("Outcome now: Maintenance.")

    service.tap(alert_message(service, alert, COLLEAGUE), 2, name="Thandi")  # Entrapment: rises
    service.events()
    rose = texts_to(service, TECH)[-1]
    assert "the outcome rose from Maintenance to Entrapment, answered by Thandi: Entrapment" in rose
    assert texts_to(service, SUPERVISOR)[-1] == rose
    assert len(texts_to(service, TECH)) == 2
    assert len(texts_to(service, SUPERVISOR)) == 2
    # Thandi tapped it: she gets her acknowledgement, not a notice about her own tap.
    assert [t for t in texts_to(service, COLLEAGUE) if "rose" in t] == []
    assert sorted(service.stored_alert(alert["alert_id"])["notices"]) == sorted(
        [
            f"maintenance:{COLLEAGUE}",
            f"maintenance:{SUPERVISOR}",
            f"entrapment:{TECH}",
            f"entrapment:{SUPERVISOR}",
        ]
    )

    # Every stream record of the alert delivered again: nobody hears anything twice.
    stored = service.stored_alert(alert["alert_id"])
    count = len(service.woosh.sent)
    for index in range(len(stored["responses"])):
        replay(service, {**stored, "responses": stored["responses"][:index]}, stored)
    assert len(service.woosh.sent) == count


def test_three_recipients_maintenance_then_entrapment_costs_twelve_messages(service: Service) -> None:
    for phone in (TECH, COLLEAGUE, SUPERVISOR):
        service.wrote(phone, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE, SUPERVISOR])
    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
    service.events()
    service.tap(alert_message(service, alert, COLLEAGUE), 2, name="Thandi")
    service.events()
    kinds = [m.kind for m in service.woosh.sent if m.accepted]
    # 3 alerts; 2 acknowledgements; 2 notices (Maintenance) + 2 notices (rose to Entrapment);
    # 3 entrapment confirmation requests (interactive, a YES button; SPEC §10).
    assert (kinds.count("interactive"), kinds.count("text"), len(kinds)) == (6, 6, 12)


def test_outside_the_window_without_notice_template_skipped_and_counted(service: Service) -> None:
    service.wrote(TECH, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE])  # COLLEAGUE never wrote: window closed
    # Maintenance: an Entrapment would also ask for confirmation (SPEC §10), skipped too.
    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
    service.events()
    replay(
        service,
        {**service.stored_alert(alert["alert_id"]), "responses": []},
        service.stored_alert(alert["alert_id"]),
    )
    assert texts_to(service, COLLEAGUE) == []
    lines = {line["to"]: line for line in service.get_alert(alert["alert_id"]).json()["recipients"]}
    assert lines[COLLEAGUE]["notices_skipped"] == 1  # counted once, even with the record replayed
    assert lines[TECH]["notices_skipped"] == 0


def test_with_notice_template_people_outside_the_window_get_it(notice_template: Service) -> None:
    service = notice_template
    service.wrote(TECH, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE])
    # Maintenance: an Entrapment would also ask for confirmation (SPEC §10).
    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
    service.events()
    [notice] = texts_to(service, COLLEAGUE)
    assert notice.startswith(
        "[lift_notice] Ticket EMG-1 at Sandton Office Park, LIFT-A, floor 3: answered by John"
    )
    [template] = [m for m in service.woosh.sent if m.kind == "template"]
    assert template.body["template"]["language"] == {"code": "en"}
    lines = {line["to"]: line for line in service.get_alert(alert["alert_id"]).json()["recipients"]}
    assert lines[COLLEAGUE]["notices_skipped"] == 0


def test_131047_on_a_text_notice_falls_back_to_the_notice_template_once(notice_template: Service) -> None:
    service = notice_template
    service.wrote(TECH, seconds_ago=HOUR)
    service.wrote(COLLEAGUE, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE])
    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
    service.events()
    [text_notice] = [m for m in service.woosh.sent if m.to == COLLEAGUE and m.kind == "text"]
    for _ in range(2):  # Meta's payload and the Bridge's wrapper both say it
        service.status(
            text_notice.message_id, "failed", error_code=131047, error_title="Re-engagement message"
        )
        service.events()
    # The stream record that added the failure, delivered again: the entry says it was done.
    stored = service.stored_alert(alert["alert_id"])
    key = f"maintenance:{COLLEAGUE}"
    entry = stored["notices"][key]
    before = {k: v for k, v in entry.items() if k not in ("failure", "fallback")}
    replay(service, {**stored, "notices": {**stored["notices"], key: before}}, stored)
    fallback = [m for m in service.woosh.sent if m.to == COLLEAGUE and m.kind == "template"]
    assert len(fallback) == 1
    assert fallback[0].body["template"]["name"] == "lift_notice"
    params = fallback[0].body["template"]["components"][0]["parameters"]
    assert params == [{"type": "text", "text": text_notice.text}]
    # A notice is no delivery of the alert: no "Alert Delivery Failed", round 0 untouched.
    assert service.details("Alert Delivery Failed") == []
    stored = service.stored_alert(alert["alert_id"])
    assert stored["failures"] == {}
    entry = stored["notices"][f"maintenance:{COLLEAGUE}"]
    assert entry["failure"]["error"]["code"] == "131047"
    assert entry["fallback"]["message_id"] == fallback[0].message_id
    line = next(r for r in service.get_alert(alert["alert_id"]).json()["recipients"] if r["to"] == COLLEAGUE)
    assert (line["message_id"], line["delivery_status"]) == (
        alert_message(service, alert, COLLEAGUE),
        "accepted",
    )


def test_unanswered_sends_one_critical_message_to_everyone_messaged(service: Service) -> None:
    alert = three_people_alert(service)
    later = datetime.now(UTC) + timedelta(seconds=181)
    service.run_timer(later)  # round 2
    service.run_timer(later)  # unanswered
    assert [d["rounds"] for d in service.details("Alert Unanswered")] == [2]
    critical = (
        "CRITICAL: no response to EMG-1 at Sandton Office Park, LIFT-A, floor 3 after 2 reminders. "
        "Immediate action required."
    )
    for phone in (TECH, COLLEAGUE, SUPERVISOR):
        assert texts_to(service, phone) == [critical]
    stored = service.stored_alert(alert["alert_id"])
    replay(service, {**stored, "unanswered_at": None}, stored)  # the stream record again
    for phone in (TECH, COLLEAGUE, SUPERVISOR):
        assert texts_to(service, phone) == [critical]


def test_a_late_tap_after_unanswered_is_acknowledged_as_late(service: Service) -> None:
    service.wrote(COLLEAGUE, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE], escalation={"after_seconds": 60, "max_rounds": 0})
    service.run_timer(datetime.now(UTC) + timedelta(seconds=61))
    service.events()
    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
    service.events()
    ack = texts_to(service, TECH)[-1]
    assert ack.startswith("Recorded: Maintenance for ticket EMG-1")
    assert " SAST." in ack
    assert "This alert had been marked unanswered at " in ack


def test_a_woosh_outage_during_a_notice_never_changes_the_recorded_tap_or_its_event(service: Service) -> None:
    service.wrote(COLLEAGUE, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE])
    service.woosh.fail_next(error="server_error", times=4)  # every try of the next send
    assert service.tap(alert_message(service, alert, TECH), 1, name="John Smith").status == 200
    # Recorded before any follow-up ran.
    assert service.get_alert(alert["alert_id"]).json()["state"] == "answered"
    [event] = service.details("Alert Response Received")  # follow-ups retried, then published
    assert (event["choice"], event["first_response"], event["outcome"]) == (
        "maintenance",
        True,
        "maintenance",
    )
    view = service.get_alert(alert["alert_id"]).json()
    assert [(r["choice"], r["responder"]["wa_id"]) for r in view["responses"]] == [("maintenance", TECH)]
    # Retried within the stream retries: each message once in the end.
    assert len(texts_to(service, TECH)) == 1
    assert len(texts_to(service, COLLEAGUE)) == 1
    assert service.details("Alert Delivery Failed") == []


def test_a_final_woosh_refusal_of_a_notice_is_recorded_not_retried(service: Service) -> None:
    service.wrote(COLLEAGUE, seconds_ago=HOUR)
    alert = service.send_alert([TECH, COLLEAGUE])
    service.woosh.fail_next(COLLEAGUE, error="invalid_phone")
    service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
    service.events()
    entry = service.stored_alert(alert["alert_id"])["notices"][f"maintenance:{COLLEAGUE}"]
    assert (entry["message_id"], entry["error"]["code"]) == (None, "invalid_phone")
    assert service.details("Alert Delivery Failed") == []
    assert len(service.details("Alert Response Received")) == 1


def test_a_responder_known_only_by_user_id_is_not_acknowledged(service: Service) -> None:
    alert = service.send_alert([TECH])
    service.tap(alert_message(service, alert, TECH), 1, user_id_only=True)
    service.events()
    assert [m for m in service.woosh.sent if m.kind != "interactive"] == []
    assert service.stored_alert(alert["alert_id"])["acks"] == {}
    assert len(service.details("Alert Response Received")) == 1


def test_the_webhook_answers_the_same_and_sends_nothing_with_or_without_notices(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lift_alerts.flows import follow_up as followup

    service.wrote(COLLEAGUE, seconds_ago=HOUR)
    answers = []
    for reactions in (followup.REACTIONS, (followup.template_fallbacks,)):
        monkeypatch.setattr(followup, "REACTIONS", reactions)
        alert = service.send_alert([TECH, COLLEAGUE])
        sent = len(service.woosh.sent)
        result = service.tap(alert_message(service, alert, TECH), 1, name="John Smith")
        assert len(service.woosh.sent) == sent  # nothing sent in the webhook's answer path
        answers.append((result.status, result.text))
        service.events()
    assert answers[0] == answers[1]
