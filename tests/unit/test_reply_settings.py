"""The reply window setting (SPEC §10) is validated; pure."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("seconds", ["0", "abc", "99999"])
def test_reply_window_seconds_is_validated(monkeypatch: pytest.MonkeyPatch, seconds: str) -> None:
    from lift_alerts.platform.config import ConfigurationError, Settings

    monkeypatch.setenv("REPLY_WINDOW_SECONDS", seconds)
    if seconds == "0":
        assert Settings.from_env().reply_window_seconds == 0
    else:
        with pytest.raises(ConfigurationError, match="REPLY_WINDOW_SECONDS"):
            Settings.from_env()
