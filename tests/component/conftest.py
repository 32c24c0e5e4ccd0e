"""Fixtures shared by component tests."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tests.support.service import Service

REGION = "af-south-1"


@pytest.fixture
def template_mode(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The service with an approved alert template: template-first delivery (SPEC §5)."""
    from lift_alerts.platform.config import get_settings

    monkeypatch.setenv("ALERT_TEMPLATE_NAME", "lift_alarm")
    get_settings.cache_clear()
    return service


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every line the functions' Powertools logger writes, formatted exactly as Lambda gets it."""
    from lift_alerts.platform.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)
    target.addHandler(handler)
    yield stream
    target.removeHandler(handler)


@pytest.fixture
def table() -> Iterator[str]:
    """An empty alerts table in moto, for tests of one repository (the send budget) alone."""
    import boto3
    from moto import mock_aws

    from tests.support.harness import create_alerts_table

    with mock_aws():
        create_alerts_table(boto3.client("dynamodb", region_name=REGION), "alerts-table-test")
        yield "alerts-table-test"
