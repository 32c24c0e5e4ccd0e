"""Pure rules of the 24-hour window and the template fallback (SPEC §5): no sockets, no moto."""

from __future__ import annotations

import pytest

from lift_alerts.domain.channels import WINDOW_SECONDS, needs_template_fallback, window_open
from lift_alerts.domain.sightings import Sighting, latest_sightings

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, False),
        (NOW, True),
        (NOW - (23 * 3600 + 49 * 60), True),  # 23 h 49 min: inside
        (NOW - (23 * 3600 + 50 * 60), False),  # 23 h 50 min: the 10-minute margin starts
        (NOW - 24 * 3600, False),
    ],
)
def test_window_is_24_hours_less_a_10_minute_margin(last: int | None, expected: bool) -> None:
    assert WINDOW_SECONDS == 24 * 3600 - 600
    assert window_open(last, NOW) is expected


@pytest.mark.parametrize(
    ("template", "channel", "code", "expected"),
    [
        (True, "interactive", "131047", True),
        (True, "text", "131047", True),
        (True, None, "131047", True),  # a mapping stored before channels were recorded
        (True, "template", "131047", False),  # a template is never resent as itself
        (False, "interactive", "131047", False),  # without a template it is a plain failure
        (True, "interactive", "131026", False),  # undeliverable: never retried
        (True, "interactive", None, False),
    ],
)
def test_only_a_131047_failure_of_a_non_template_is_resent(
    template: bool, channel: str | None, code: str | None, expected: bool
) -> None:
    assert needs_template_fallback(template, channel, code) is expected


def test_one_sighting_per_person_the_latest() -> None:
    sightings = [
        Sighting("27824537125", None, 100),
        Sighting("27824537125", None, 300),
        Sighting("27824537125", None, 200),
        Sighting(None, "ZA.1", 50),
        Sighting(None, None, 999),  # nobody: dropped
    ]
    assert sorted(latest_sightings(sightings), key=lambda s: s.at) == [
        Sighting(None, "ZA.1", 50),
        Sighting("27824537125", None, 300),
    ]
