"""Who wrote, from what one write stored on an alert (SPEC §5; flows/windows.py): the follow-up
function moves those people's 24-hour windows. Pure: a fake repository, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.inbound import Tap
from lift_alerts.domain.sightings import Sighting, stored_sightings
from lift_alerts.flows.record_taps import record_yes
from lift_alerts.flows.windows import record_stored_windows
from tests.support.settings import make_settings

NOW = datetime(2025, 10, 1, 10, 40, tzinfo=UTC)
T1 = "2025-10-01T10:31:05Z"
T2 = "2025-10-01T10:35:00Z"
ALERT_ID = "0" * 32


def epoch_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def tap(wa_id: str | None, at: str, user_id: str | None = None) -> dict[str, Any]:
    responder: dict[str, Any] = {"wa_id": wa_id, "name": "John"}
    if user_id:
        responder["user_id"] = user_id
    return {"event_id": f"wamid.{wa_id}{at}", "responder": responder, "responded_at": at}


class Repo:
    """Records the sightings written; `fail` makes every write raise (an AWS fault)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[Sighting] = []
        self.yes: list[dict[str, Any]] = []

    def record_sighting(self, sighting: Sighting, *, expires_at: int, retention_expires_at: int) -> None:
        if self.fail:
            raise RuntimeError("ProvisionedThroughputExceededException")
        assert expires_at == sighting.at + 2 * 86_400
        self.seen.append(sighting)

    def record_confirmation(self, alert_id: str, yes: dict[str, Any], **_: Any) -> Any:
        from lift_alerts.store.table import Written

        self.yes.append(yes)
        return Written({})


def repositories(repo: Repo) -> Any:
    """The fake as the repositories a flow is given (contacts and answers)."""
    return SimpleNamespace(contacts=repo, answers=repo)


def context(repo: Repo) -> Any:
    from lift_alerts.flows.follow_up_sends import FollowUpContext

    def no_woosh() -> Any:
        raise AssertionError("recording a window sends nothing")

    return FollowUpContext(repositories(repo), no_woosh, make_settings(), NOW)


def test_only_what_this_write_added_counts_taps_yes_and_replies_alike() -> None:
    old: AlertItem = {"responses": [tap("27820000001", T1)], "confirmations": [], "messages_received": []}
    new: AlertItem = {
        "responses": [tap("27820000001", T1), tap("27820000002", T2, user_id="ZA.2")],
        "confirmations": [tap("27820000003", T2)],
        "messages_received": [{"from": {"wa_id": None, "user_id": "ZA.4"}, "received_at": T1}],
    }
    assert stored_sightings(old, new) == [
        Sighting("27820000002", "ZA.2", epoch_of(T2)),
        Sighting("27820000003", None, epoch_of(T2)),
        Sighting(None, "ZA.4", epoch_of(T1)),
    ]
    assert stored_sightings(new, new) == []  # a change that stored no tap or reply
    assert stored_sightings({}, {"responses": [tap(None, T1)]}) == []  # nobody to record


def test_the_follow_up_records_the_latest_per_person() -> None:
    repo = Repo()
    new: AlertItem = {"responses": [tap("27820000001", T1), tap("27820000001", T2)]}
    assert record_stored_windows(context(repo), {}, new) == ["window_recorded"]
    assert repo.seen == [Sighting("27820000001", None, epoch_of(T2))]


def test_a_window_not_recorded_is_counted_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from lift_alerts.flows import windows

    counted: list[str] = []
    monkeypatch.setattr(windows, "count", lambda name, value=1: counted.append(name))
    new: AlertItem = {"responses": [tap("27820000001", T1)]}
    # No exception: the stream record is not retried for it (the safe direction is a template).
    assert record_stored_windows(context(Repo(fail=True)), {}, new) == ["window_not_recorded"]
    assert counted == ["ContactWindowNotRecorded"]


def test_a_yes_keeps_the_user_id_so_the_follow_up_maps_it_to_the_phone() -> None:
    repo = Repo()
    yes = Tap(
        tap_id="wamid.YES",
        button_id=f"la1:{ALERT_ID}:confirm",
        button_title="YES",
        context_id=None,
        wa_id="27820000001",
        user_id="ZA.1",
        name="John",
        responded_at=T1,
    )
    assert record_yes(yes, repositories(repo)) == "confirmation_matched_button"
    stored: AlertItem = {"confirmations": repo.yes}
    assert stored_sightings({}, stored) == [Sighting("27820000001", "ZA.1", epoch_of(T1))]
