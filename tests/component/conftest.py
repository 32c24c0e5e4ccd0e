"""Fixtures shared by component tests."""

from __future__ import annotations

import pytest

from tests.support.service import Service


@pytest.fixture
def template_mode(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The service with an approved alert template: template-first delivery (SPEC §5)."""
    from lift_alerts.config import get_settings

    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alarm")
    get_settings.cache_clear()
    return service
