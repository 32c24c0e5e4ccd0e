"""The browser tier: pages in a real browser (Debian's chromium driven by Playwright).

`make browser` (a dependency of `make test`) installs /usr/bin/chromium; Playwright's own
browser download is never used (it cannot reach its servers from here). One browser serves
the whole tier (package scope: it is closed when the tier's last test is done, before the
other tiers run); every test gets a new context (its own storage, cookies and viewport) and
page. Console errors and uncaught exceptions are collected and fail the test at teardown
unless the test declared them with `console.expect(pattern)`.

The launch flags: no sandbox (tests run as root), headless without a GPU, and none of
Chromium's own traffic (background networking, component updates, sync, QUIC): this
machine's closed network refuses it. Playwright gives every launch a fresh temporary profile
(its own --user-data-dir, removed at close), so no flag names one here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from tests.browser.fake_desk_api import FakeDeskApi

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
# Playwright's waits in these tests: the page polls every 3 s, so 5 s covers one refresh.
WAIT_MS = 5_000


@dataclass
class ConsoleLog:
    """What the page logged as an error (console.error, failed loads, uncaught exceptions)."""

    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        """Errors matching `pattern` (a regular expression) are part of this test's story."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: `make browser` installs it (as root: apt-get install -y chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield launched
        launched.close()


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, console: ConsoleLog) -> Iterator[Page]:
    # The browser's own zone is UTC and its locale en-US: the page must show the desk's zone
    # (DESK_CONFIG.timezone) with its abbreviation whatever the browser's are.
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            console.errors.append(f"console.error: {message.text} ({where})")

    def on_page_error(error: Error) -> None:
        console.errors.append(f"uncaught: {error.message}")

    tab.on("console", on_console)
    tab.on("pageerror", on_page_error)
    yield tab
    context.close()
    unexpected = console.unexpected()
    assert not unexpected, "the page logged errors:\n" + "\n".join(unexpected)


@pytest.fixture
def desk() -> Iterator[FakeDeskApi]:
    """The FAKE desk API (tests/browser/fake_desk_api.py) on loopback, empty and healthy."""
    api = FakeDeskApi()
    api.start()
    yield api
    api.stop()
