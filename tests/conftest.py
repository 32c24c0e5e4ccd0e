"""Fixtures: moto in-process with the template's resources, the stand-in Woosh, the handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

import tests.support.environment  # noqa: F401 - before any handler or Powertools import
from lift_alerts.platform.config import reset_caches
from local.moto_atomic import prepare_moto
from local.woosh_standin import WooshStandIn
from tests.support.harness import LOCAL_SECRET
from tests.support.service import Service

prepare_moto()

# Each tier directory is also a marker (`pytest -m unit`, `-m "not e2e"`...).
_TIERS = ("unit", "component", "e2e", "robustness", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.parent.name
        if tier in _TIERS:
            item.add_marker(tier)


@pytest.fixture
def woosh() -> Iterator[WooshStandIn]:
    standin = WooshStandIn(
        api_key=LOCAL_SECRET["woosh_api_key"], webhook_secret=LOCAL_SECRET["webhook_secret"]
    )
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def service(woosh: WooshStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setenv("WOOSH_BASE_URL", woosh.base_url)
    monkeypatch.delenv("ALERT_TEMPLATE_NAME", raising=False)
    reset_caches()
    with mock_aws():
        yield Service(woosh)
    reset_caches()
