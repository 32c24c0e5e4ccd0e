"""The local stack (`make local`) as a subprocess, shared by the tests of a module."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from local.process import StackProcess
from tests.support.stack_log import crashes


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    """The stack with the template's settings (a module that needs others defines its own)."""
    with StackProcess() as process:
        yield process


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """A failed test shows what the stack it used logged about handlers that raised (the local
    API answers those 500), since the stack's log is gone with its temporary directory."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, StackProcess):
            found = crashes(value.log_text())
            report.sections.append(("local stack: handlers that raised", found or "(none logged)"))
