"""The local stack (`make local`) as a subprocess, shared by the tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.process import StackProcess


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    """The stack with the template's settings (a module that needs others defines its own)."""
    with StackProcess() as process:
        yield process
