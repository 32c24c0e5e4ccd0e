"""WhatsApp's fees beside the infrastructure cost (issue 14 item 6): pure arithmetic of bench/cost."""

from __future__ import annotations

import pytest

from bench import cost

BEFORE, AFTER = "2026-07-01 to 2026-09-30", "from 2026-10-01"


def test_every_rate_is_filled_and_dated() -> None:
    assert all(rate > 0 for rate in cost.MESSAGE_RATES_ZA.values())
    assert cost.MESSAGE_RATES_EFFECTIVE == "2026-07-01"


@pytest.mark.parametrize(
    ("mode", "before", "after"),
    [
        # Until October the alert and the acknowledgement were free inside the window.
        ("interactive_only", 0.0, 15.2),
        ("template_first_window_open", 0.0, 15.2),
        # One utility template per alert (0.0076 at +27); the acknowledgement was free until October.
        ("template_only", 7.6, 15.2),
        ("template_first_window_closed", 7.6, 15.2),
    ],
)
def test_fees_per_1000_alerts_by_mode_and_regime(mode: str, before: float, after: float) -> None:
    fees = cost.message_fees_per_1000(0.04)["modes"][mode]
    assert fees["whatsapp_fees_usd"] == {BEFORE: before, AFTER: after}
    assert fees["infrastructure_usd"] == 0.04
    assert fees["fees_to_infrastructure"][AFTER] == pytest.approx(after / 0.04, abs=0.1)
