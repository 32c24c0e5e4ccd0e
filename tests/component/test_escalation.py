"""Escalation until someone answers (SPEC §9), driven by the timer with explicit times."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from lift_alerts.flows.timer import LEASE_SECONDS
from tests.support.service import Service

TECH = "27824537125"
DESK = "27831234567"
SUPERVISOR = "27820000001"


def start(service: Service, **escalation: object) -> tuple[dict, datetime]:
    settings = {"after_seconds": 60, "max_rounds": 2, "recipients": ["+" + SUPERVISOR, TECH], **escalation}
    body = service.send_alert([TECH, DESK], escalation=settings)
    created = datetime.fromisoformat(
        service.get_alert(body["alert_id"]).json()["created_at"].replace("Z", "+00:00")
    )
    return body, created


def reminders(service: Service) -> list[tuple[str, str]]:
    return [
        (m.to, m.body["interactive"]["body"]["text"].splitlines()[0])
        for m in service.woosh.sent
        if m.body.get("type") == "interactive"
        and m.body["interactive"]["body"]["text"].startswith("REMINDER")
    ]


def test_rounds_go_out_on_time_then_the_alert_is_unanswered(service: Service) -> None:
    alert, created = start(service)
    alert_id = alert["alert_id"]
    assert service.run_timer(created + timedelta(seconds=59))["rounds_sent"] == []
    assert service.run_timer(created + timedelta(seconds=61))["rounds_sent"] == [f"{alert_id}:1"]
    # Technician listed in both lists is one person: one reminder each per round.
    assert sorted(reminders(service)) == sorted(
        [(TECH, "REMINDER 1/2"), (DESK, "REMINDER 1/2"), (SUPERVISOR, "REMINDER 1/2")]
    )
    assert service.run_timer(created + timedelta(seconds=62))["rounds_sent"] == []
    assert service.run_timer(created + timedelta(seconds=121))["rounds_sent"] == [f"{alert_id}:2"]
    assert len(reminders(service)) == 6
    assert service.run_timer(created + timedelta(seconds=150))["unanswered"] == []
    assert service.run_timer(created + timedelta(seconds=181))["unanswered"] == [alert_id]
    assert service.run_timer(created + timedelta(seconds=300)) == {
        "rounds_sent": [],
        "unanswered": [],
        "skipped": 0,
    }

    escalated = service.details("Alert Escalated")
    assert [(e["event_id"], e["round"], e["reason"]) for e in escalated] == [
        (f"{alert_id}:round:1", 1, "no_response"),
        (f"{alert_id}:round:2", 2, "no_response"),
    ]
    assert escalated[0]["recipients"] == [TECH, DESK, SUPERVISOR]
    assert escalated[0]["ticket_id"] == "EMG-1"
    unanswered = service.details("Alert Unanswered")
    assert [(u["event_id"], u["rounds"]) for u in unanswered] == [(f"{alert_id}:unanswered", 2)]
    view = service.get_alert(alert_id).json()
    assert view["state"] == "unanswered"
    assert view["escalation"] == {"after_seconds": 60, "max_rounds": 2, "rounds_sent": 2, "next_due_at": None}
    assert [r["to"] for r in view["recipients"]] == [TECH, DESK, SUPERVISOR]

    # A late tap is still matched and published; the alert becomes answered.
    service.tap(alert["messages"][0]["message_id"], 2)
    assert service.get_alert(alert_id).json()["state"] == "answered"
    assert len(service.details("Alert Response Received")) == 1


def test_tap_on_a_reminder_matches_by_context_and_stops_escalation(service: Service) -> None:
    alert, created = start(service)
    service.run_timer(created + timedelta(seconds=61))
    reminder = next(m for m in service.woosh.sent if m.to == SUPERVISOR)
    service.tap(reminder.message_id, 2, name="Supervisor")
    event = service.details("Alert Response Received")[0]
    assert event["original_message_id"] == reminder.message_id
    assert event["matched_by"] == "context"
    assert event["responder"]["wa_id"] == SUPERVISOR
    assert service.run_timer(created + timedelta(seconds=121))["rounds_sent"] == []
    assert service.run_timer(created + timedelta(seconds=999))["unanswered"] == []
    assert len(service.details("Alert Escalated")) == 1
    assert service.get_alert(alert["alert_id"]).json()["escalation"]["next_due_at"] is None


def test_tap_before_the_first_round_means_no_reminder(service: Service) -> None:
    alert, created = start(service)
    service.tap(alert["messages"][1]["message_id"], 0)
    for seconds in (61, 121, 181):
        service.run_timer(created + timedelta(seconds=seconds))
    assert reminders(service) == []
    assert service.details("Alert Escalated") == []


def test_close_stops_escalation(service: Service) -> None:
    alert, created = start(service)
    assert service.close_alert(alert["alert_id"]).status == 200
    for seconds in (61, 121, 181):
        service.run_timer(created + timedelta(seconds=seconds))
    assert reminders(service) == []
    assert service.get_alert(alert["alert_id"]).json()["state"] == "closed"


def test_all_deliveries_failed_brings_the_next_round_forward(service: Service) -> None:
    service.woosh.fail_next(error="invalid_phone", times=2)
    result = service.post_alert(
        {
            "ticket_id": "EMG-1",
            "lift_id": "LIFT-A",
            "recipients": [TECH, DESK],
            "escalation": {"after_seconds": 600},
        }
    )
    assert result.status == 502
    alert_id = result.json()["alert_id"]
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert service.run_timer(now)["rounds_sent"] == [f"{alert_id}:1"]
    assert [e["reason"] for e in service.details("Alert Escalated")] == ["all_deliveries_failed"]
    # The step after keeps its time: round 2 is due 2 x after_seconds after creation.
    assert service.run_timer(now + timedelta(seconds=60))["rounds_sent"] == []


def test_a_failed_status_for_every_message_brings_the_round_forward(service: Service) -> None:
    alert, created = start(service, after_seconds=600, recipients=[])
    for line in alert["messages"]:
        service.status(line["message_id"], "failed", error_code=131026)
    assert service.run_timer(created + timedelta(seconds=5))["rounds_sent"] == [f"{alert['alert_id']}:1"]
    assert [e["reason"] for e in service.details("Alert Escalated")] == ["all_deliveries_failed"]


@pytest.mark.parametrize("trial", range(5))
def test_concurrent_timer_runs_never_double_a_round(service: Service, trial: int) -> None:
    _alert, created = start(service)
    barrier = threading.Barrier(4)
    results: list[dict] = []

    def run() -> None:
        barrier.wait()
        results.append(service.run_timer(created + timedelta(seconds=61)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(len(r["rounds_sent"]) for r in results) == 1
    assert len(reminders(service)) == 3
    assert len(service.details("Alert Escalated")) == 1


def test_crash_after_claim_is_recovered_without_a_double_send(service: Service) -> None:
    from lift_alerts.store.timed_steps import EscalationSteps

    alert, created = start(service)
    now = created + timedelta(seconds=61)
    steps = EscalationSteps(service.table)
    # A run that claimed round 1 and died before sending anything.
    moment = int(now.timestamp())
    assert steps.claim_step(
        alert["alert_id"],
        step=1,
        rounds_sent=0,
        now=moment,
        lease_until=moment + LEASE_SECONDS,
        reason="no_response",
    )
    assert service.run_timer(now + timedelta(seconds=5))["rounds_sent"] == []  # the claim is still live
    later = now + timedelta(seconds=LEASE_SECONDS + 1)
    assert service.run_timer(later)["rounds_sent"] == [f"{alert['alert_id']}:1"]
    assert len(reminders(service)) == 3
    assert len(service.details("Alert Escalated")) == 1


def test_crash_after_a_partial_send_reminds_only_the_rest(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lift_alerts.store.ledgers import LedgerRepository

    alert, created = start(service)
    now = created + timedelta(seconds=61)
    calls = {"n": 0}
    original = LedgerRepository.record_reminder

    def crash_after_first(self: LedgerRepository, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("Lambda died here")
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    service.woosh.set_delay(0.05)  # sends finish one by one, so the crash lands between them
    monkeypatch.setattr(LedgerRepository, "record_reminder", crash_after_first)
    service.run_timer(now)
    monkeypatch.setattr(LedgerRepository, "record_reminder", original)
    service.woosh.set_delay(0)
    sent_before = len(reminders(service))
    assert service.run_timer(now + timedelta(seconds=LEASE_SECONDS + 1))["rounds_sent"] == [
        f"{alert['alert_id']}:1"
    ]
    per_person: dict[str, int] = {}
    for to, _line in reminders(service):
        per_person[to] = per_person.get(to, 0) + 1
    # Whoever was recorded before the crash is not reminded again; nobody is missed.
    assert set(per_person) == {TECH, DESK, SUPERVISOR}
    assert sum(per_person.values()) <= sent_before + 2
    assert len(service.details("Alert Escalated")) == 1


def test_test_then_entrapment_raises_the_outcome(service: Service) -> None:
    alert, _created = start(service)
    service.tap(alert["messages"][0]["message_id"], 0)
    service.tap(alert["messages"][1]["message_id"], 2)
    view = service.get_alert(alert["alert_id"]).json()
    assert view["first_response"]["choice"] == "test"
    assert view["outcome"] == "entrapment"
    assert [e["outcome"] for e in service.details("Alert Response Received")] == ["test", "entrapment"]


def test_a_later_test_never_lowers_the_outcome(service: Service) -> None:
    """Severity only rises in any order: Maintenance, Entrapment, then a late Test."""
    alert, _created = start(service)
    first, second = (m["message_id"] for m in alert["messages"])
    for message_id, choice in ((first, 1), (second, 2), (first, 0)):  # the last: a changed answer
        service.tap(message_id, choice)
    view = service.get_alert(alert["alert_id"]).json()
    assert [r["choice"] for r in view["responses"]] == ["maintenance", "entrapment", "test"]
    assert view["first_response"]["choice"] == "maintenance"
    assert view["outcome"] == "entrapment"
    outcomes = [e["outcome"] for e in service.details("Alert Response Received")]
    assert outcomes == ["maintenance", "entrapment", "entrapment"]


def test_a_stale_timer_run_cannot_claim_a_round_already_sent(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B read the alert before run A sent round 1; B must not send round 1 again."""
    from lift_alerts.flows.escalate import escalate
    from lift_alerts.flows.sending import woosh_client
    from lift_alerts.flows.timer import TimerReport, TimerRun
    from lift_alerts.platform.config import get_settings
    from lift_alerts.store.repositories import Repositories

    alert, created = start(service)
    alert_id = alert["alert_id"]
    late = created + timedelta(seconds=125)  # the timer was down: round 2 is due as well
    repos = Repositories.of(service.table)
    stale = repos.alerts.get_alert(alert_id)
    assert service.run_timer(late)["rounds_sent"] == [f"{alert_id}:1"]
    assert len(reminders(service)) == 3
    monkeypatch.setattr(repos.alerts, "get_alert", lambda _id: stale)
    report = TimerReport()
    escalate(alert_id, TimerRun(repos, woosh_client, get_settings(), late, report))
    assert report.rounds_sent == []
    assert len(reminders(service)) == 3
