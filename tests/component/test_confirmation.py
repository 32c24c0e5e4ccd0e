"""Entrapment confirmation (SPEC §10), through the handlers with AWS in moto and Woosh on
loopback: who is asked and on which channel, the reminders on the timer (explicit times),
what a YES records, closes and publishes, who is told, and the exactly-once guarantees of
§9 for confirmation rounds (concurrent timer runs against moto server, crashed runs)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from lift_alerts.flows.timer import LEASE_SECONDS
from tests.robustness import test_races as races
from tests.support.service import Service

TECH = "27824537125"
DESK = "27831234567"
SUPERVISOR = "27820000001"
STANDBY = "27820000009"  # escalation recipient, never reminded: never messaged
EVERYONE = [TECH, DESK, SUPERVISOR]
AFTER = 300


def confirm_id(alert_id: str) -> str:
    return f"la1:{alert_id}:confirm"


def asked(service: Service, alert_id: str) -> list[Any]:
    """Every accepted message that carried the YES button of this alert (either channel)."""
    return [m for m in service.woosh.sent if m.accepted and (confirm_id(alert_id), "YES") in m.buttons] + [
        m
        for m in service.woosh.sent
        if m.accepted
        and m.kind == "template"
        and any(b == confirm_id(alert_id) for b, _title in m.buttons)
        and (confirm_id(alert_id), "YES") not in m.buttons
    ]


def first_lines(service: Service, alert_id: str) -> list[tuple[str, str]]:
    return sorted((m.to, (m.text or "").splitlines()[0]) for m in asked(service, alert_id))


def texts_to(service: Service, to: str) -> list[str]:
    return [m.text or "" for m in service.woosh.sent if m.accepted and m.to == to and m.kind == "text"]


def entrapment(
    service: Service, *, wrote: list[str] = EVERYONE, **fields: Any
) -> tuple[dict[str, Any], datetime]:
    """An alert to three people; TECH taps Entrapment; the follow-up asks for confirmation."""
    for phone in wrote:
        service.wrote(phone, seconds_ago=3600)
    alert = service.send_alert(
        list(EVERYONE), escalation={"after_seconds": 600, "max_rounds": 1, "recipients": [STANDBY]}, **fields
    )
    assert service.tap(alert["messages"][0]["message_id"], 2, name="Tech").status == 200
    service.events()
    view = service.get_alert(alert["alert_id"]).json()
    assert view["confirmation"] is not None
    requested = datetime.fromisoformat(view["confirmation"]["requested_at"].replace("Z", "+00:00"))
    return alert, requested


def yes(service: Service, message_id: str, **kwargs: Any) -> dict[str, Any]:
    result = service.tap(message_id, 0, **kwargs)
    assert result.status == 200, result.text
    return dict(result.json())


def test_asked_once_when_the_outcome_first_becomes_entrapment(service: Service) -> None:
    for phone in EVERYONE:
        service.wrote(phone)
    alert = service.send_alert(list(EVERYONE), escalation={"recipients": [STANDBY]})
    alert_id = alert["alert_id"]
    service.tap(alert["messages"][1]["message_id"], 1)  # Maintenance first: nothing to confirm
    service.events()
    assert asked(service, alert_id) == []
    assert service.get_alert(alert_id).json()["confirmation"] is None

    service.tap(alert["messages"][0]["message_id"], 2)  # the outcome becomes entrapment
    service.events()
    requests = asked(service, alert_id)
    assert sorted(m.to for m in requests) == sorted(EVERYONE)  # STANDBY was never messaged
    for message in requests:
        assert message.kind == "interactive"
        assert message.buttons == [(confirm_id(alert_id), "YES")]
        question = "Has the service provider been notified of the entrapment at Sandton Office Park, LIFT-A"
        assert f"{question} (floor 3)?" in (message.text or "")
        assert "EMG-1" in (message.text or "")
    view = service.get_alert(alert_id).json()
    requested = datetime.fromisoformat(view["confirmation"]["requested_at"].replace("Z", "+00:00"))
    assert view["confirmation"] == {
        "requested_at": view["confirmation"]["requested_at"],
        "rounds_sent": 0,
        "next_due_at": (requested + timedelta(seconds=AFTER)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "confirmed_at": None,
        "confirmed_by": None,
        "missed_at": None,
    }
    assert view["state"] == "answered"
    assert view["close_reason"] is None

    service.tap(alert["messages"][2]["message_id"], 2)  # a second Entrapment: nothing new
    service.events()
    assert len(asked(service, alert_id)) == 3
    # Taps on the request match by context (their ids are in the alert's messages).
    stored = service.stored_alert(alert_id)
    assert {m.message_id for m in requests} <= set(stored["messages"])


def test_outside_the_window_the_confirm_template_and_without_it_skipped_and_counted(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lift_alerts.platform.config import get_settings

    # Outcome notices reach people outside the window as the notice template, so the skips
    # counted here are the confirmation's own.
    monkeypatch.setenv("NOTICE_TEMPLATE_NAME", "lift_notice")
    get_settings.cache_clear()
    # Without CONFIRM_TEMPLATE_NAME: DESK and SUPERVISOR never wrote, so they are not asked.
    alert, requested = entrapment(service, wrote=[])
    alert_id = alert["alert_id"]
    assert [m.to for m in asked(service, alert_id)] == [TECH]  # TECH's tap opened the window
    assert service.stored_alert(alert_id)["notices_skipped"] == {DESK: 1, SUPERVISOR: 1}
    service.run_timer(requested + timedelta(seconds=AFTER + 1))
    assert service.stored_alert(alert_id)["notices_skipped"] == {DESK: 2, SUPERVISOR: 2}

    monkeypatch.setenv("CONFIRM_TEMPLATE_NAME", "lift_confirm")
    get_settings.cache_clear()
    service.woosh.reset()
    second, _requested = entrapment(service, wrote=[], ticket_id="EMG-2")
    by_person = {m.to: m for m in asked(service, second["alert_id"])}
    assert {to: m.kind for to, m in by_person.items()} == {
        TECH: "interactive",
        DESK: "template",
        SUPERVISOR: "template",
    }
    template = by_person[DESK].body["template"]
    assert template["name"] == "lift_confirm"
    assert template["language"] == {"code": "en"}
    [body] = [c for c in template["components"] if c["type"] == "body"]
    [variable] = body["parameters"]
    assert "Has the service provider been notified" in variable["text"]
    assert "EMG-2" in variable["text"]
    assert "\n" not in variable["text"]
    assert by_person[DESK].buttons[0][0] == confirm_id(second["alert_id"])
    assert service.stored_alert(second["alert_id"])["notices_skipped"] == {}
    # A YES on the template's quick reply (its payload) matches by context.
    answer = yes(service, by_person[DESK].message_id, name="Desk")
    assert answer["outcomes"] == {"confirmation_matched_context": 1}
    assert service.get_alert(second["alert_id"]).json()["close_reason"] == "provider_confirmed"


def test_reminders_on_time_then_missed_with_a_follow_up_notice(service: Service) -> None:
    alert, requested = entrapment(service)
    alert_id = alert["alert_id"]

    def at(seconds: int) -> dict[str, Any]:
        return service.run_timer(requested + timedelta(seconds=seconds))

    assert at(AFTER - 1).get("confirmation_rounds") is None
    assert at(AFTER + 1)["confirmation_rounds"] == [f"{alert_id}:confirm:1"]
    assert at(AFTER + 2).get("confirmation_rounds") is None
    assert at(2 * AFTER + 1)["confirmation_rounds"] == [f"{alert_id}:confirm:2"]
    assert at(3 * AFTER + 1)["confirmation_rounds"] == [f"{alert_id}:confirm:3"]
    lines = Counter(line for _to, line in first_lines(service, alert_id))
    assert lines == Counter(
        {"ENTRAPMENT - ticket EMG-1": 3, "REMINDER 1/3": 3, "REMINDER 2/3": 3, "REMINDER 3/3": 3}
    )
    reminder = next(m for m in asked(service, alert_id) if (m.text or "").startswith("REMINDER 3/3"))
    assert "Has the service provider been notified of the entrapment" in (reminder.text or "")
    assert reminder.buttons == [(confirm_id(alert_id), "YES")]
    assert service.get_alert(alert_id).json()["confirmation"]["rounds_sent"] == 3

    assert at(4 * AFTER - 1).get("confirmations_missed") is None
    assert service.details("Alert Confirmation Missed") == []
    assert at(4 * AFTER + 1)["confirmations_missed"] == [alert_id]
    missed = service.details("Alert Confirmation Missed")
    assert missed == [
        {
            **alert_fields(alert_id, "confirmation_missed"),
            "rounds": 3,
        }
    ]
    for phone in EVERYONE:
        [notice] = [t for t in texts_to(service, phone) if "follow up" in t]
        assert "EMG-1" in notice
    assert at(9 * AFTER) == {"rounds_sent": [], "unanswered": [], "skipped": 0}
    view = service.get_alert(alert_id).json()
    assert view["confirmation"]["missed_at"] is not None
    assert view["confirmation"]["next_due_at"] is None
    assert view["state"] == "answered"  # missed is not closed: people must follow up
    service.events()
    assert len(service.details("Alert Confirmation Missed")) == 1
    assert len([t for t in texts_to(service, TECH) if "follow up" in t]) == 1


def alert_fields(alert_id: str, event: str) -> dict[str, str]:
    """What every event of the entrapment() alert carries: its id for `event` and the alert."""
    return {
        "event_id": f"{alert_id}:{event}",
        "alert_id": alert_id,
        "ticket_id": "EMG-1",
        "lift_id": "LIFT-A",
        "site": "Sandton Office Park",
        "floor": "3",
    }


def test_the_first_yes_closes_publishes_once_stops_reminders_and_tells_everyone(service: Service) -> None:
    alert, requested = entrapment(service)
    alert_id = alert["alert_id"]
    request_to_desk = next(m for m in asked(service, alert_id) if m.to == DESK)
    answer = yes(service, request_to_desk.message_id, name="Desk Officer")
    assert answer["outcomes"] == {"confirmation_matched_context": 1}

    view = service.get_alert(alert_id).json()
    assert view["state"] == "closed"
    assert view["close_reason"] == "provider_confirmed"
    assert view["confirmation"]["confirmed_by"] == {"wa_id": DESK, "name": "Desk Officer"}
    assert view["confirmation"]["confirmed_at"] == view["closed_at"]
    assert view["confirmation"]["next_due_at"] is None
    # A YES classifies nothing.
    assert [r["choice"] for r in view["responses"]] == ["entrapment"]
    assert view["outcome"] == "entrapment"

    confirmed = service.details("Alert Provider Confirmed")
    assert confirmed == [
        {
            **alert_fields(alert_id, "confirmed"),
            "confirmed_by": {"wa_id": DESK, "name": "Desk Officer"},
            "confirmed_at": view["confirmation"]["confirmed_at"],
        }
    ]
    assert len(service.details("Alert Response Received")) == 1
    for phone in EVERYONE:
        [notice] = [t for t in texts_to(service, phone) if "Desk Officer confirmed" in t]
        assert "EMG-1" in notice
    for seconds in (AFTER + 1, 2 * AFTER + 1, 3 * AFTER + 1, 4 * AFTER + 1):
        assert service.run_timer(requested + timedelta(seconds=seconds)) == {
            "rounds_sent": [],
            "unanswered": [],
            "skipped": 0,
        }
    assert len(asked(service, alert_id)) == 3
    assert service.details("Alert Confirmation Missed") == []
    assert "confirm_due_at" not in service.stored_alert(alert_id)


def test_a_later_yes_is_recorded_and_acknowledged_only(service: Service) -> None:
    alert, _requested = entrapment(service)
    alert_id = alert["alert_id"]
    requests = {m.to: m for m in asked(service, alert_id)}
    yes(service, requests[DESK].message_id, name="Desk Officer")
    service.events()
    sent_before = len(service.woosh.sent)
    later = service.woosh.tap(requests[TECH].message_id, 0, name="Tech", post=False)["payload"]
    assert service.webhook(later).json()["outcomes"] == {"confirmation_matched_context": 1}
    assert service.webhook(later).json()["outcomes"] == {"tap_duplicate": 1}  # delivered twice
    service.events()
    new = service.woosh.sent[sent_before:]
    assert [(m.to, m.kind) for m in new] == [(TECH, "text")]
    assert "Desk Officer had already confirmed" in (new[0].text or "")
    stored = service.stored_alert(alert_id)
    assert [(c["responder"]["wa_id"], c["matched_by"]) for c in stored["confirmations"]] == [
        (DESK, "context"),
        (TECH, "context"),
    ]
    assert stored["confirmation"]["confirmed_by"]["wa_id"] == DESK
    assert len(service.details("Alert Provider Confirmed")) == 1


def test_the_same_yes_delivered_twice_is_recorded_once(service: Service) -> None:
    alert, _requested = entrapment(service)
    alert_id = alert["alert_id"]
    request = next(m for m in asked(service, alert_id) if m.to == SUPERVISOR)
    payload = service.woosh.tap(request.message_id, 0, post=False)["payload"]
    assert service.webhook(payload).json()["outcomes"] == {"confirmation_matched_context": 1}
    assert service.webhook(payload).json()["outcomes"] == {"tap_duplicate": 1}
    service.events()
    assert service.webhook(payload).json()["outcomes"] == {"tap_duplicate": 1}
    assert len(service.stored_alert(alert_id)["confirmations"]) == 1
    assert len(service.details("Alert Provider Confirmed")) == 1
    for phone in EVERYONE:
        assert len([t for t in texts_to(service, phone) if "confirmed the service provider" in t]) == 1


def test_a_yes_on_a_reminder_matches_by_context_and_without_context_by_button(service: Service) -> None:
    alert, requested = entrapment(service)
    alert_id = alert["alert_id"]
    service.run_timer(requested + timedelta(seconds=AFTER + 1))
    reminder = next(
        m
        for m in asked(service, alert_id)
        if m.to == SUPERVISOR and (m.text or "").startswith("REMINDER 1/3")
    )
    assert yes(service, reminder.message_id)["outcomes"] == {"confirmation_matched_context": 1}
    [first] = service.stored_alert(alert_id)["confirmations"]
    assert first["original_message_id"] == reminder.message_id
    other = next(m for m in asked(service, alert_id) if m.to == TECH)
    assert yes(service, other.message_id, with_context=False)["outcomes"] == {
        "confirmation_matched_button": 1
    }
    assert [c["matched_by"] for c in service.stored_alert(alert_id)["confirmations"]] == ["context", "button"]


def test_a_yes_for_an_alert_that_asked_nothing_is_unmatched(service: Service) -> None:
    from local.woosh_standin import webhook_envelope

    alert = service.send_alert([TECH])
    message = {
        "from": TECH,
        "id": "wamid.FORGEDYES",
        "timestamp": "1700000000",
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": confirm_id(alert["alert_id"]), "title": "YES"},
        },
    }
    result = service.webhook(webhook_envelope({"contacts": [{"wa_id": TECH}], "messages": [message]}))
    assert result.json()["outcomes"] == {"tap_unmatched_confirmation_not_requested": 1}
    stored = service.stored_alert(alert["alert_id"])
    assert "confirmations" not in stored
    assert "closed_at" not in stored


def test_closing_the_alert_stops_confirmation_reminders(service: Service) -> None:
    alert, requested = entrapment(service)
    assert service.close_alert(alert["alert_id"]).status == 200
    for seconds in (AFTER + 1, 4 * AFTER + 1):
        service.run_timer(requested + timedelta(seconds=seconds))
    assert len(asked(service, alert["alert_id"])) == 3
    assert service.details("Alert Confirmation Missed") == []


def test_a_run_that_crashes_half_way_is_taken_over_after_the_lease(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lift_alerts.store.ledgers import LedgerRepository

    alert, requested = entrapment(service)
    alert_id = alert["alert_id"]
    now = requested + timedelta(seconds=AFTER + 1)
    calls = {"n": 0}
    original = LedgerRepository.record_sent

    def crash_on_second(self: LedgerRepository, alert_id: str, ledger: str, *args: Any) -> None:
        if ledger == "confirm_sends":
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("Lambda died here")
        original(self, alert_id, ledger, *args)

    service.woosh.set_delay(0.05)  # sends finish one by one, so the crash lands between them
    monkeypatch.setattr(LedgerRepository, "record_sent", crash_on_second)
    assert service.run_timer(now).get("confirmation_rounds") is None  # it died
    monkeypatch.setattr(LedgerRepository, "record_sent", original)
    service.woosh.set_delay(0)
    recorded = {
        key.partition(":")[2]
        for key in service.stored_alert(alert_id)["confirm_sends"]
        if key.startswith("1:")
    }
    assert len(recorded) == 2  # the other sends of the run were recorded before it died
    sent_before = Counter(to for to, line in first_lines(service, alert_id) if line == "REMINDER 1/3")
    # The claim is live: nobody else sends round 1 before the lease runs out.
    assert service.run_timer(now + timedelta(seconds=5)).get("confirmation_rounds") is None
    later = now + timedelta(seconds=LEASE_SECONDS + 1)
    assert service.run_timer(later)["confirmation_rounds"] == [f"{alert_id}:confirm:1"]
    after = Counter(to for to, line in first_lines(service, alert_id) if line == "REMINDER 1/3")
    assert set(after) == set(EVERYONE)  # nobody missed
    for to in recorded:
        assert after[to] == 1  # whoever was recorded is not reminded again
    assert sum(after.values()) <= sum(sent_before.values()) + 2
    assert service.get_alert(alert_id).json()["confirmation"]["rounds_sent"] == 1


def test_messages_one_alert_with_three_recipients_causes(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """From the Entrapment tap to a YES: without reminders, and after all three reminders."""
    alert, _requested = entrapment(service)
    count_before_tap = 3  # the alert itself
    request_to_desk = next(m for m in asked(service, alert["alert_id"]) if m.to == DESK)
    yes(service, request_to_desk.message_id)
    service.events()
    quick = len([m for m in service.woosh.sent if m.accepted]) - count_before_tap
    # The Entrapment tap: its acknowledgement, the outcome notice to the two others, three
    # requests; the YES: three "provider confirmed" notices.
    assert quick == 1 + 2 + 3 + 3

    service.woosh.reset()
    second, requested = entrapment(service, ticket_id="EMG-2")
    for n in (1, 2, 3):
        service.run_timer(requested + timedelta(seconds=n * AFTER + 1))
    last = next(m for m in asked(service, second["alert_id"]) if (m.text or "").startswith("REMINDER 3/3"))
    yes(service, last.message_id)
    service.events()
    slow = len([m for m in service.woosh.sent if m.accepted]) - count_before_tap
    assert slow == 1 + 2 + 3 + 9 + 3  # ack, outcome notices, requests, three reminder rounds, notices
    with capsys.disabled():
        print(
            f"\nmessages from an Entrapment tap to a YES, three recipients: {quick} without reminders,",
            end="",
        )
        print(f" {slow} after three")


# -- concurrent timer runs: threads against moto server, each playing one Lambda container -------

RACE_TRIALS = 20
# The race fixtures of tests/robustness: a moto server, and the service against it.
moto_server = races.moto_server
live = races.live


@pytest.mark.robustness
def test_concurrent_timer_runs_send_each_confirmation_round_once(
    live: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four scheduled invocations at the same instant, for a reminder round and for the missed mark."""
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("CONFIRM_MAX_ROUNDS", "1")
    get_settings.cache_clear()
    trials = 0
    for trial in range(RACE_TRIALS // 2):
        alert, requested = entrapment(live, ticket_id=f"EMG-R{trial}")
        alert_id = alert["alert_id"]
        reminder_at = requested + timedelta(seconds=AFTER + 1)
        runs = races.together([lambda n=n, at=reminder_at: races.invoke_timer(n, at) for n in range(4)])
        trials += 1
        assert sum(len(r["confirmation_rounds"]) for r in runs) == 1, runs
        assert sum(r["errors"] for r in runs) == 0, runs
        reminded = sorted(to for to, line in first_lines(live, alert_id) if line == "REMINDER 1/1")
        assert reminded == sorted(EVERYONE)

        missed_at = requested + timedelta(seconds=2 * AFTER + 1)
        runs = races.together([lambda n=n, at=missed_at: races.invoke_timer(n, at) for n in range(4)])
        trials += 1
        assert sum(len(r["confirmations_missed"]) for r in runs) == 1, runs
        missed = [e for e in live.details("Alert Confirmation Missed") if e["alert_id"] == alert_id]
        assert [e["event_id"] for e in missed] == [f"{alert_id}:confirmation_missed"]
        for phone in EVERYONE:
            notices = [t for t in texts_to(live, phone) if "follow up" in t and f"EMG-R{trial}" in t]
            assert len(notices) == 1
    RACE_FIGURES["trials"] += trials


RACE_FIGURES = {"trials": 0}


def test_confirmation_race_figures() -> None:
    print(f"confirmation race trials: {RACE_FIGURES['trials']} (4 timer runs at once each)")


def test_get_and_both_events_conform_to_openapi(service: Service) -> None:
    from tests.support.openapi import assert_conforms, component

    confirmed, _requested = entrapment(service)
    before = service.get_alert(confirmed["alert_id"])
    assert assert_conforms("/alerts/{alert_id}", "GET", before)["confirmation"]["confirmed_at"] is None
    request = next(m for m in asked(service, confirmed["alert_id"]) if m.to == TECH)
    yes(service, request.message_id)
    assert_conforms("/alerts/{alert_id}", "GET", service.get_alert(confirmed["alert_id"]))
    missed, requested = entrapment(service, ticket_id="EMG-2")
    for step in (1, 2, 3, 4):
        service.run_timer(requested + timedelta(seconds=step * AFTER + 1))
    assert_conforms("/alerts/{alert_id}", "GET", service.get_alert(missed["alert_id"]))
    schemas = {
        "Alert Provider Confirmed": "ProviderConfirmedEvent",
        "Alert Confirmation Missed": "ConfirmationMissedEvent",
    }
    for detail_type, name in schemas.items():
        [detail] = service.details(detail_type)
        errors = [e.message for e in component(name).iter_errors(detail)]
        assert not errors, (name, errors, detail)


def test_a_stale_timer_run_cannot_claim_a_confirmation_round_already_sent(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B read the alert before run A sent reminder 1; the timer was down, so reminder 2 is
    due as well: B must not send reminder 1 again."""
    from lift_alerts.flows.confirm import confirmation_step
    from lift_alerts.flows.sending import woosh_client
    from lift_alerts.flows.timer import TimerReport, TimerRun
    from lift_alerts.platform.config import get_settings
    from lift_alerts.store.repositories import Repositories

    alert, requested = entrapment(service)
    alert_id = alert["alert_id"]
    late = requested + timedelta(seconds=2 * AFTER + 5)
    repos = Repositories.of(service.table)
    stale = repos.alerts.get_alert(alert_id)
    assert service.run_timer(late)["confirmation_rounds"] == [f"{alert_id}:confirm:1"]
    monkeypatch.setattr(repos.alerts, "get_alert", lambda _id: stale)
    report = TimerReport()
    confirmation_step(alert_id, TimerRun(repos, woosh_client, get_settings(), late, report))
    assert report.confirmation_rounds == []
    lines = Counter(line for _to, line in first_lines(service, alert_id))
    assert lines == Counter({"ENTRAPMENT - ticket EMG-1": 3, "REMINDER 1/3": 3})


def test_a_confirmed_notice_refused_with_131047_falls_back_to_the_notice_template(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The confirmation's outcome notices are notices (SPEC §10): a text Meta refuses because the
    window closed meanwhile comes back as NOTICE_TEMPLATE_NAME, once, as every other notice does
    (before, these kinds had no template to fall back to and the person was never told)."""
    from lift_alerts.domain.outbound import template_param_text
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("NOTICE_TEMPLATE_NAME", "lift_notice")
    get_settings.cache_clear()
    alert, _requested = entrapment(service)
    question = next(m for m in service.woosh.sent if m.to == DESK and "service provider" in (m.text or ""))
    yes(service, question.message_id, name="Desk")
    service.events()
    [told] = [
        m
        for m in service.woosh.sent
        if m.to == SUPERVISOR and "confirmed the service provider" in (m.text or "")
    ]
    assert told.kind == "text"
    service.status(told.message_id, "failed", error_code=131047, error_title="Re-engagement message")
    service.events()
    fallback = [m for m in service.woosh.sent if m.to == SUPERVISOR and m.kind == "template"]
    assert [m.body["template"]["name"] for m in fallback] == ["lift_notice"]
    assert fallback[0].body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": template_param_text(told.text or "")}
    ]
    entry = service.stored_alert(alert["alert_id"])["confirmation_notices"][f"confirmed:{SUPERVISOR}"]
    assert entry["fallback"]["message_id"] == fallback[0].message_id
