"""The unit tier is pure: a test here that opens a socket fails.

Unit tests exercise code without servers, moto or the stand-in (those are tests/component);
every socket, listening or connecting, raises instead. Package scope: the guard is in place
before any module-scoped fixture of this tier and lifted after its last test, so the other
tiers in the same run are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.no_sockets import sockets_refused


@pytest.fixture(scope="package", autouse=True)
def no_sockets() -> Iterator[None]:
    with sockets_refused():
        yield
