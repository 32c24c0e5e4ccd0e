"""The desk page against the real service (SPEC §13): the local stack over HTTP, its stand-in
Woosh Bridge, and Debian's chromium. What the rescue desk would see while an alarm plays out.

With DESK_SCREENSHOTS=1 the demo's multi-emergency scene runs against the same stack and the
board and its story are saved to docs/desk/demo-board.png and docs/desk/demo-story.png (the
README shows them)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from local.process import StackProcess
from tests.browser.conftest import ConsoleLog
from tests.support.e2e import post_alert, recorded, standin_control, tap

TECHNICIAN = "+27824537125"
COLLEAGUE = "+27831234567"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "desk"


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    with StackProcess() as process:
        yield process


def open_desk(page: Page, stack: StackProcess, fragment: str = "") -> None:
    page.goto(f"{stack.info['api_url']}/desk{fragment}")
    expect(page.locator("#status-items")).to_be_visible()


def row(page: Page, alert_id: str) -> Locator:
    return page.locator(f'tr.row[data-alert-id="{alert_id}"]')


def tick(page: Page, to: str) -> Locator:
    lane = page.locator(f'.lanes .lane[data-person="{to.lstrip("+")}"]')
    return lane.locator(".e-message").first.locator(".delivery .tick")


def test_an_alert_appears_on_the_board_within_5_s_and_a_tap_changes_its_row(
    page: Page, stack: StackProcess
) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    open_desk(page, stack)
    page.evaluate("window.__sameDocument = true")
    alert = post_alert(api, "EMG-DESK-1", "LIFT-D1", [TECHNICIAN, COLLEAGUE])
    started = time.monotonic()
    line = row(page, alert["alert_id"])
    expect(line).to_be_visible(timeout=5_000)
    assert time.monotonic() - started < 5
    expect(line.locator(".c-state")).to_have_text("Awaiting response")

    first = alert["messages"][0]["message_id"]
    recorded(api, alert["alert_id"], TECHNICIAN, first)
    tap(woosh, first, 2, "Thandi Technician")  # Entrapment
    expect(line.locator(".c-state")).to_have_text("Answered", timeout=5_000)
    expect(line.locator(".c-outcome")).to_contain_text("Entrapment")
    expect(line.locator(".c-first")).to_contain_text("Thandi Technician")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"


def test_the_story_shows_the_ticks_and_the_tap_and_a_read_turns_the_ticks_blue(
    page: Page, stack: StackProcess
) -> None:
    api, woosh = stack.info["api_url"], stack.info["woosh_url"]
    alert = post_alert(api, "EMG-DESK-2", "LIFT-D2", [TECHNICIAN, COLLEAGUE])
    tech, colleague = (m["message_id"] for m in alert["messages"])
    recorded(api, alert["alert_id"], COLLEAGUE, colleague)
    standin_control(woosh, "_status", {"message_id": colleague, "status": "delivered"})
    tap(woosh, colleague, 1, "Sipho Colleague")  # Maintenance
    open_desk(page, stack, f"#alert={alert['alert_id']}")
    expect(page.locator("#story-title")).to_contain_text("LIFT-D2")
    colleague_lane = page.locator(f'.lanes .lane[data-person="{COLLEAGUE.lstrip("+")}"]')
    expect(colleague_lane.locator(".e-tap")).to_contain_text("Maintenance")
    expect(colleague_lane.locator(".e-tap")).to_contain_text("First answer")
    expect(tick(page, COLLEAGUE)).to_have_text("✓✓")  # delivered: grey
    red, green, blue = _rgb(tick(page, COLLEAGUE))
    assert max(red, green, blue) - min(red, green, blue) < 40, "delivered ticks are grey"

    recorded(api, alert["alert_id"], TECHNICIAN, tech)
    standin_control(woosh, "_status", {"message_id": tech, "status": "read"})
    expect(tick(page, TECHNICIAN).locator("xpath=..").locator(".status-word")).to_have_text(
        "Read", timeout=5_000
    )
    red, green, blue = _rgb(tick(page, TECHNICIAN))
    assert blue > red + 80, "read ticks are blue"
    assert blue > green + 40, "read ticks are blue"


def test_an_unknown_alert_shows_a_clear_message(page: Page, stack: StackProcess, console: ConsoleLog) -> None:
    # The browser itself reports the API's 404 for the unknown id; the page logs nothing.
    console.expect(r"status of 404 .*/desk/api/alerts/0{32}")
    open_desk(page, stack, "#alert=" + "0" * 32)
    expect(page.locator("#story")).to_contain_text(re.compile("not found|no alert|unknown", re.IGNORECASE))


def test_at_360_px_the_board_and_a_story_need_no_horizontal_scroll(page: Page, stack: StackProcess) -> None:
    alert = post_alert(stack.info["api_url"], "EMG-DESK-3", "LIFT-D3", [TECHNICIAN])
    page.set_viewport_size({"width": 360, "height": 740})
    open_desk(page, stack)
    expect(row(page, alert["alert_id"])).to_be_visible(timeout=5_000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    open_desk(page, stack, f"#alert={alert['alert_id']}")
    expect(page.locator("#story-title")).to_contain_text("LIFT-D3")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.skipif(not os.environ.get("DESK_SCREENSHOTS"), reason="set DESK_SCREENSHOTS=1 to write them")
def test_screenshots_during_the_demos_multi_emergency(page: Page) -> None:
    from local.demo.client import Demo
    from local.demo.multi_emergency import multi_emergency_scene

    with StackProcess() as stack:  # its own: the scene counts every message the stand-in got
        multi_emergency_scene(Demo(stack.info))
        _screenshots(page, stack)


def _screenshots(page: Page, stack: StackProcess) -> None:
    open_desk(page, stack)
    lift_b = page.locator("tr.row", has_text="LIFT-B")
    expect(lift_b).to_be_visible(timeout=5_000)
    expect(lift_b.locator(".c-outcome")).to_contain_text("Entrapment")
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "demo-board.png"), full_page=True)
    lift_b.click()
    expect(page.locator("#story-title")).to_contain_text("LIFT-B")
    expect(page.locator(".lanes > .lane")).to_have_count(2)
    page.set_viewport_size({"width": 1440, "height": 1400})
    page.screenshot(path=str(DOCS / "demo-story.png"), full_page=True)


def _rgb(locator: Locator) -> tuple[int, int, int]:
    color: str = locator.evaluate("el => getComputedStyle(el).color")
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+).*\)", color)
    assert match, color
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))
