"""The rescue desk's page (SPEC §13) in a real browser, fed by the FAKE desk API.

What is checked here is the page: what it shows, how it refreshes, the keyboard, narrow
screens, sign-in. The answers come from tests/browser/fake_desk_api.py (SPEC-shaped, changed
by the test between the page's polls), not from the service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.browser.conftest import ConsoleLog
from tests.browser.fake_desk_api import (
    JOHN,
    NOMSA,
    PIETER,
    THANDI,
    FakeDeskApi,
    entrapment_story,
    iso,
    make_alert,
    recipient,
    response,
    sample_board,
)

ROOT = Path(__file__).resolve().parents[2]
AUTH_DOMAIN = "https://desk-auth.example.test"


def now() -> datetime:
    return datetime.now(UTC)


def an_alert(lift_id: str, *, age_seconds: int = 30, **kwargs: Any) -> dict[str, Any]:
    return make_alert(
        created_at=now() - timedelta(seconds=age_seconds),
        lift_id=lift_id,
        site=kwargs.pop("site", "Sandton Office Park"),
        floor=kwargs.pop("floor", "3"),
        recipients=kwargs.pop("recipients", [recipient(JOHN, "delivered"), recipient(THANDI, "sent")]),
        **kwargs,
    )


def open_desk(page: Page, desk: FakeDeskApi, fragment: str = "") -> None:
    page.goto(desk.url("/desk") + fragment)


def row(page: Page, alert: dict[str, Any]) -> Locator:
    return page.locator(f'tr.row[data-alert-id="{alert["alert_id"]}"]')


def board_ids(page: Page) -> list[str]:
    ids: list[str] = page.eval_on_selector_all("#rows tr.row", "rows => rows.map(r => r.dataset.alertId)")
    return ids


def rgb(locator: Locator) -> tuple[int, int, int]:
    color: str = locator.evaluate("el => getComputedStyle(el).color")
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+).*\)", color)
    assert match, color
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def seconds_of(age: str) -> int:
    """ "1m 05s" -> 65."""
    match = re.fullmatch(r"(?:(\d+)m )?(\d+)s", age.strip())
    assert match, age
    return int(match.group(1) or 0) * 60 + int(match.group(2))


def lane(page: Page, digits: str) -> Locator:
    return page.locator(f'.lanes .lane[data-person="{digits}"]')


def status_item(page: Page, label: str) -> Locator:
    return page.locator("#status-items .st").filter(
        has=page.locator(".st-k", has_text=re.compile(f"^{label}$"))
    )


def wait_for_polls(desk: FakeDeskApi, polls: int, timeout: float = 8.0) -> None:
    """Until the page has asked for the status `polls` more times (it asks once a poll)."""

    def asked() -> int:
        return sum(r.path == "/desk/api/status" for r in desk.api_requests())

    target, deadline = asked() + polls, time.monotonic() + timeout
    while asked() < target:
        assert time.monotonic() < deadline, f"fewer than {polls} polls in {timeout} s"
        time.sleep(0.05)


def sast(moment: datetime, fmt: str = "%H:%M:%S") -> str:
    return (moment.astimezone(UTC) + timedelta(hours=2)).strftime(fmt) + " SAST"


# ---------------------------------------------------------------- the board


def test_a_new_alert_appears_on_the_board_within_5_s_without_a_reload(page: Page, desk: FakeDeskApi) -> None:
    older = an_alert("LIFT-1", age_seconds=90)
    desk.put(older)
    open_desk(page, desk)
    expect(row(page, older)).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    newer = an_alert("LIFT-2", age_seconds=1)
    desk.put(newer)
    started = time.monotonic()
    expect(row(page, newer)).to_be_visible(timeout=5_000)
    assert time.monotonic() - started < 5
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert board_ids(page) == [newer["alert_id"], older["alert_id"]], "newest first"
    expect(page.locator("#count")).to_have_text("(2)")


def test_a_row_changes_in_place_when_its_state_outcome_and_first_answer_change(
    page: Page, desk: FakeDeskApi
) -> None:
    alert = an_alert("LIFT-A")
    desk.put(alert)
    open_desk(page, desk)
    tr = row(page, alert)
    expect(tr.locator(".c-state")).to_have_text("Awaiting response")
    expect(tr.locator(".c-first")).to_have_text(re.compile("no answer yet"))
    tr.evaluate("el => { el.__sameRow = true; }")

    answer = response(now(), JOHN, "John Smith", "entrapment")
    desk.update(
        alert["alert_id"], state="answered", outcome="entrapment", first_response=answer, responses=[answer]
    )
    expect(tr.locator(".c-state")).to_have_text("Answered")
    expect(tr.locator(".c-outcome")).to_contain_text("Entrapment")
    expect(tr.locator(".c-first")).to_contain_text("John Smith")
    expect(tr).to_have_class(re.compile(r"\brow-entrapment\b"))
    assert tr.evaluate("el => el.__sameRow") is True, "the row was rebuilt, not updated in place"


def test_unanswered_and_entrapment_rows_stand_out_in_colour_and_in_words(
    page: Page, desk: FakeDeskApi
) -> None:
    calm = an_alert("LIFT-CALM", age_seconds=10)
    unanswered = an_alert("LIFT-LOST", age_seconds=400, state="unanswered", rounds_sent=2)
    trapped = an_alert(
        "LIFT-TRAP",
        age_seconds=200,
        state="answered",
        outcome="entrapment",
        responses=[response(now(), JOHN, "John Smith", "entrapment")],
    )
    desk.put(calm, unanswered, trapped)
    open_desk(page, desk)
    expect(row(page, unanswered).locator(".c-state")).to_have_text(re.compile("Unanswered"))
    expect(row(page, trapped).locator(".c-outcome")).to_have_text(re.compile("Entrapment"))
    edge = "el => getComputedStyle(el.querySelector('td')).borderLeftColor"
    background = "el => getComputedStyle(el.querySelector('td')).backgroundColor"
    assert row(page, calm).evaluate(edge) != row(page, unanswered).evaluate(edge)
    assert row(page, unanswered).evaluate(edge) == row(page, trapped).evaluate(edge)
    assert row(page, calm).evaluate(background) != row(page, trapped).evaluate(background)
    expect(page.locator("#tally")).to_contain_text("1 unanswered")
    expect(page.locator("#tally")).to_contain_text("1 entrapment")
    expect(page).to_have_title(re.compile(r"^\(1 unanswered\)"))


def test_the_age_counts_up_every_second(page: Page, desk: FakeDeskApi) -> None:
    alert = an_alert("LIFT-A", age_seconds=65)
    desk.put(alert)
    open_desk(page, desk)
    age = row(page, alert).locator(".c-age")
    expect(age).to_have_text(re.compile(r"^1m \d\ds$"))
    created = datetime.fromisoformat(alert["created_at"].replace("Z", "+00:00"))

    def shown_minus_true() -> float:
        return seconds_of(age.inner_text()) - (now() - created).total_seconds()

    # The age shown is the true age, less than a tick's second and its rounding down...
    assert -2.1 <= shown_minus_true() <= 0.5
    before = seconds_of(age.inner_text())
    page.wait_for_timeout(3_000)
    # ...and still is 3 s later: it counted up without a refresh of the row.
    assert -2.1 <= shown_minus_true() <= 0.5
    assert seconds_of(age.inner_text()) > before


def test_the_board_follows_the_next_cursor_to_every_open_alert(page: Page, desk: FakeDeskApi) -> None:
    desk.page_size = 2
    alerts = [an_alert(f"LIFT-{n}", age_seconds=10 * n) for n in range(5)]
    closed = an_alert("LIFT-SHUT", age_seconds=5, state="closed", close_reason="provider_confirmed")
    desk.put(*alerts, closed)
    open_desk(page, desk)
    expect(page.locator("#rows tr.row")).to_have_count(5)
    assert board_ids(page) == [a["alert_id"] for a in alerts]
    lists = [r.path for r in desk.api_requests() if r.path.startswith("/desk/api/alerts?")]
    assert lists[0] == "/desk/api/alerts?state=open&limit=50"
    assert any("&next=" in path for path in lists)


def test_the_board_shows_delivery_ticks_reminders_and_confirmation(page: Page, desk: FakeDeskApi) -> None:
    board = sample_board(now())
    desk.put(*board)
    open_desk(page, desk)
    fresh, story, unanswered, _maintenance, test, missed = board
    deliveries = row(page, story).locator(".c-deliveries")
    expect(deliveries).to_contain_text("1 read")
    expect(deliveries).to_contain_text("1 delivered")
    expect(deliveries).to_contain_text("1 failed")
    expect(deliveries).to_contain_text("3 people")
    expect(deliveries.locator(".tick-read")).to_have_text("✓✓")
    expect(deliveries.locator(".tick-failed")).to_have_text("✗")
    expect(row(page, fresh).locator(".c-deliveries")).to_contain_text("2 queued")
    expect(row(page, fresh).locator(".c-deliveries .tick-queued svg")).to_have_count(1)
    expect(row(page, unanswered).locator(".c-deliveries .tick-sent")).to_have_text("✓")
    expect(row(page, unanswered).locator(".c-reminders")).to_have_text("2")
    expect(row(page, fresh).locator(".c-reminders")).to_contain_text(re.compile(r"next \d\d:\d\d SAST"))
    expect(row(page, story).locator(".c-confirmed")).to_have_text("Waiting for YES")
    expect(row(page, missed).locator(".c-confirmed")).to_contain_text("Missed: follow up")
    # A first answer from someone WhatsApp gave no name: their number, as people read it.
    expect(row(page, test).locator(".c-first")).to_contain_text("+27 79 555 1234")
    expect(row(page, test).locator(".c-outcome")).to_have_text("Test")


# ---------------------------------------------------------------- the story


def test_the_story_has_a_lane_per_person_with_ticks_taps_and_replies(page: Page, desk: FakeDeskApi) -> None:
    story = entrapment_story(now())
    desk.put(story)
    open_desk(page, desk, f"#alert={story['alert_id']}")
    lanes = page.locator(".lanes > .lane")
    expect(lanes).to_have_count(4)
    people: list[str] = lanes.evaluate_all("ls => ls.map(l => l.dataset.person)")
    assert people == [JOHN, THANDI, PIETER, NOMSA]
    expect(page.locator("#story-title")).to_have_text("LIFT-A · Sandton Office Park")

    john = lane(page, JOHN)
    expect(john.locator(".lane-title")).to_have_text("John Smith")
    expect(john.locator(".lane-meta")).to_contain_text("+27 82 453 7125 · Recipient")
    john_alert = john.locator(".e-message").first
    expect(john_alert.locator(".entry-title")).to_have_text("Alert")
    expect(john_alert.locator(".delivery .tick")).to_have_text("✓✓")
    expect(john_alert.locator(".status-word")).to_have_text("Read")
    expect(john_alert.locator(".channel")).to_have_text("interactive")
    red, green, blue = rgb(john_alert.locator(".delivery .tick"))
    assert blue > red + 80, "read ticks are blue"
    assert blue > green + 40, "read ticks are blue"
    john_tap = john.locator(".e-tap")
    expect(john_tap).to_contain_text("Entrapment")
    expect(john_tap).to_contain_text("First answer")
    expect(john.locator(".e-message .entry-title")).to_have_text(
        ["Alert", "Reminder 1", "Acknowledgement", "Confirmation request"]
    )

    thandi = lane(page, THANDI)
    delivered = thandi.locator(".e-message").first.locator(".delivery .tick")
    expect(delivered).to_have_text("✓✓")
    red, green, blue = rgb(delivered)
    assert max(red, green, blue) - min(red, green, blue) < 40, "delivered ticks are grey, not blue"
    expect(thandi.locator(".e-tap")).to_contain_text("Maintenance")
    expect(thandi.locator(".e-tap")).not_to_contain_text("First answer")
    expect(thandi.locator(".e-reply")).to_contain_text("I can hear them, calling the technician now")
    expect(thandi.locator(".entries > li .entry-title")).to_have_text(
        ["Alert", "Reminder 1", "Notice", "Confirmation request", "Tapped", "Acknowledgement", "Replied"]
    )

    pieter = lane(page, PIETER)
    failed = pieter.locator(".e-message").first
    expect(failed.locator(".delivery .tick")).to_have_text("✗")
    expect(failed.locator(".status-word")).to_have_text("Failed")
    expect(failed.locator(".error")).to_contain_text("Message undeliverable")
    expect(failed.locator(".error")).to_contain_text("131026")

    nomsa = lane(page, NOMSA)
    expect(nomsa.locator(".lane-meta")).to_contain_text("Escalation contact")
    expect(nomsa.locator(".e-message").first.locator(".delivery .tick")).to_have_text("✓")
    expect(nomsa.locator(".e-message").nth(1).locator(".tick-accepted svg")).to_have_count(1)

    expect(page.locator(".lane-alert .entry-title")).to_have_text(
        ["Alarm raised", "Reminder round 1", "Confirmation requested"]
    )


def test_times_are_shown_in_the_display_time_zone_with_its_abbreviation(
    page: Page, desk: FakeDeskApi
) -> None:
    story = entrapment_story(now())
    desk.put(story)
    open_desk(page, desk, f"#alert={story['alert_id']}")
    created = datetime.fromisoformat(story["created_at"].replace("Z", "+00:00"))
    raised = page.locator(".facts div").filter(has_text="Raised").locator("dd")
    expect(raised).to_contain_text(sast(created))
    first_status = story["timeline"][0]["statuses"][0]["at"]
    expect(lane(page, JOHN).locator(".trail time").first).to_have_text(
        re.compile(re.escape(sast(datetime.fromisoformat(first_status.replace("Z", "+00:00")))) + "$")
    )
    times = page.locator("#story time").all_inner_texts()
    assert times
    assert all(t.endswith(" SAST") for t in times), times


def test_another_display_time_zone_is_honoured(page: Page, desk: FakeDeskApi) -> None:
    desk.config["timezone"] = "Europe/London"
    at = datetime(2024, 1, 15, 10, 30, 0, tzinfo=UTC)
    story = make_alert(created_at=at, lift_id="LIFT-L", site="Canary Wharf", floor="9", recipients=[])
    desk.put(story)
    open_desk(page, desk, f"#alert={story['alert_id']}")
    expect(page.locator(".facts div").filter(has_text="Raised").locator("dd")).to_contain_text(
        "15 Jan, 10:30:00 GMT"
    )


def test_an_unknown_alert_shows_a_clear_message(page: Page, desk: FakeDeskApi, console: ConsoleLog) -> None:
    console.expect(r"Failed to load resource: .* 404")
    alert = an_alert("LIFT-A")
    desk.put(alert)
    open_desk(page, desk, "#alert=0123456789abcdef0123456789abcdef")
    expect(page.locator("#story-title")).to_have_text("Alert not found")
    message = page.locator("#story-body [role=alert]")
    expect(message).to_contain_text("No alert with id “0123456789abcdef0123456789abcdef”")
    expect(message).to_contain_text("404 (not found): no alert 0123456789abcdef0123456789abcdef")
    expect(row(page, alert)).to_be_visible()
    expect(page.locator("#conn")).to_be_hidden()
    wait_for_polls(desk, 1)
    asked = [r for r in desk.api_requests() if r.path.startswith("/desk/api/alerts/0123")]
    assert len(asked) == 1, "an unknown alert is asked for once, not on every poll"


def test_a_deep_link_opens_the_story_and_the_link_follows_the_choice(page: Page, desk: FakeDeskApi) -> None:
    first, second = an_alert("LIFT-1", age_seconds=20), an_alert("LIFT-2", age_seconds=10)
    desk.put(first, second)
    open_desk(page, desk)
    expect(page.locator("#story")).to_be_hidden()
    page.evaluate(f"location.hash = '#alert={first['alert_id']}'")
    expect(page.locator("#story-title")).to_have_text("LIFT-1 · Sandton Office Park")
    expect(row(page, first)).to_have_attribute("aria-current", "true")
    row(page, second).click()
    expect(page.locator("#story-title")).to_have_text("LIFT-2 · Sandton Office Park")
    assert page.url.endswith(f"#alert={second['alert_id']}")
    page.locator("#story-close").click()
    expect(page.locator("#story")).to_be_hidden()
    assert "#alert=" not in page.url


# ---------------------------------------------------------------- the status strip


def test_the_status_strip_shows_each_part_and_a_part_that_could_not_be_read(
    page: Page, desk: FakeDeskApi
) -> None:
    desk.status = {
        "queued": 7,
        "parked": 2,
        "dead_letters": {"publisher-dlq": 3, "wakeups-dlq": 0, "parked-dlq": 1},
        "sweep": {"last_run_at": iso(now() - timedelta(seconds=30))},
        "send_budget": {"used_last_60s": 87, "limit": 100},
        "alarms": ["lift-alerts-WebhookErrors", "lift-alerts-StepLate"],
        "problems": [],
    }
    open_desk(page, desk)
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
    expect(status_item(page, "Queued")).to_have_text(re.compile(r"Queued\s+7"))
    expect(status_item(page, "Parked")).to_have_text(re.compile(r"Parked\s+2"))
    dead = status_item(page, "Dead letters")
    expect(dead).to_have_text(re.compile(r"Dead letters\s+4\s+\(publisher-dlq 3, parked-dlq 1\)"))
    expect(dead).to_have_class(re.compile(r"\btone-bad\b"))
    expect(status_item(page, "Sweep")).to_contain_text("ran under 1 min ago")
    expect(status_item(page, "Send budget")).to_have_text(
        re.compile(r"Send budget\s+87 / 100\s+in the last 60 s")
    )
    expect(status_item(page, "In ALARM")).to_contain_text("lift-alerts-WebhookErrors, lift-alerts-StepLate")
    expect(page.locator("#problems")).to_be_hidden()

    desk.status = {
        "queued": 0,
        "parked": None,
        "dead_letters": None,
        "sweep": {"last_run_at": iso(now() - timedelta(minutes=12))},
        "send_budget": None,
        "alarms": None,
        "problems": [
            "parked: the parked-payload table could not be read (AccessDenied)",
            {"part": "send_budget", "message": "the budget item could not be read"},
            "dead_letters: sqs unreachable",
            "alarms: cloudwatch unreachable",
        ],
    }
    expect(status_item(page, "Send budget")).to_contain_text("unknown")
    for label in ("Parked", "Dead letters", "Alarms"):
        expect(status_item(page, label)).to_contain_text("unknown")
    expect(status_item(page, "Queued")).to_have_text(re.compile(r"Queued\s+0"))
    expect(status_item(page, "Sweep")).to_contain_text("ran 12 min ago")
    expect(status_item(page, "Sweep")).to_have_class(re.compile(r"\btone-bad\b"))
    expect(page.locator("#problems")).to_be_visible()
    problems = page.locator("#problems li")
    expect(problems).to_have_count(4)
    expect(problems.nth(0)).to_contain_text("parked-payload table could not be read (AccessDenied)")
    expect(problems.nth(1)).to_contain_text("send_budget: the budget item could not be read")


def test_a_connection_problem_is_shown_and_cleared_without_console_noise(
    page: Page, desk: FakeDeskApi, console: ConsoleLog
) -> None:
    # The browser itself reports failed loads; the page's own code logs nothing for them.
    console.expect(r"^console\.error: Failed to load resource: ")
    alert = an_alert("LIFT-A")
    desk.put(alert)
    open_desk(page, desk)
    expect(row(page, alert)).to_be_visible()
    conn = page.locator("#conn")
    expect(conn).to_be_hidden()

    desk.outage = 503
    expect(conn).to_be_visible()
    expect(conn).to_contain_text("Connection problem, retrying")
    expect(conn).to_contain_text("503")
    expect(row(page, alert)).to_be_visible()  # what was known stays on the board

    page.route("**/desk/api/**", lambda route: route.abort("connectionrefused"))
    desk.outage = None
    expect(conn).to_contain_text("Connection problem, retrying")
    expect(conn).to_contain_text("unreachable")
    page.unroute("**/desk/api/**")
    expect(conn).to_be_hidden()
    assert all(e.startswith("console.error: Failed to load resource: ") for e in console.errors), (
        console.errors
    )


# ---------------------------------------------------------------- narrow screens and the keyboard


def test_usable_at_360_px_without_horizontal_scrolling(page: Page, desk: FakeDeskApi) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    board = sample_board(now())
    desk.put(*board)
    open_desk(page, desk)
    expect(page.locator("#rows tr.row")).to_have_count(len(board))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    first = page.locator("#rows tr.row").first
    assert first.evaluate("el => getComputedStyle(el).display") == "grid", "rows become cards"
    expect(first.locator(".c-site")).to_be_visible()

    row(page, board[1]).click()
    expect(page.locator(".lanes > .lane")).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    lefts = page.locator(".lanes > .lane").evaluate_all(
        "ls => ls.map(l => Math.round(l.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) == 1, f"lanes side by side at 360 px: {lefts}"
    expect(page.locator("#board")).to_be_hidden()  # the story takes the screen; Escape or Close returns
    page.keyboard.press("Escape")
    expect(page.locator("#board")).to_be_visible()


def test_keyboard_only_tab_enter_arrows_and_escape(page: Page, desk: FakeDeskApi) -> None:
    older, newer = an_alert("LIFT-OLD", age_seconds=60), an_alert("LIFT-NEW", age_seconds=5)
    desk.put(older, newer)
    open_desk(page, desk)
    expect(page.locator("#rows tr.row")).to_have_count(2)

    page.keyboard.press("Tab")
    focused = "document.activeElement.dataset.alertId"
    assert page.evaluate(focused) == newer["alert_id"], "Tab reaches the first row"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid", (
        "a visible focus"
    )
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == older["alert_id"]
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == newer["alert_id"]

    page.keyboard.press("Enter")
    expect(page.locator("#story-title")).to_have_text("LIFT-NEW · Sandton Office Park")
    expect(page.locator("#story-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#story")).to_be_hidden()
    expect(row(page, newer)).to_be_focused()

    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    expect(page.locator("#story-title")).to_have_text("LIFT-OLD · Sandton Office Park")
    page.keyboard.press("Tab")
    expect(page.locator("#story-close")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#story")).to_be_hidden()
    expect(row(page, older)).to_be_focused()


def test_the_chosen_alert_and_keyboard_focus_survive_refreshes(page: Page, desk: FakeDeskApi) -> None:
    first, second = an_alert("LIFT-1", age_seconds=40), an_alert("LIFT-2", age_seconds=30)
    desk.put(first, second)
    open_desk(page, desk)
    expect(page.locator("#rows tr.row")).to_have_count(2)
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    expect(row(page, first)).to_be_focused()

    arriving = an_alert("LIFT-3", age_seconds=1)
    desk.put(arriving)
    desk.update(first["alert_id"], state="unanswered")
    expect(row(page, arriving)).to_be_visible()
    expect(row(page, first).locator(".c-state")).to_contain_text("Unanswered")
    expect(row(page, first)).to_be_focused()

    page.keyboard.press("Enter")
    expect(page.locator("#story-title")).to_be_focused()
    desk.update(first["alert_id"], note="Caller says two people inside")
    expect(page.locator("#story-body")).to_contain_text("Caller says two people inside")
    expect(page.locator("#story-title")).to_be_focused()
    expect(page.locator("#story-title")).to_have_text("LIFT-1 · Sandton Office Park")
    expect(row(page, first)).to_have_attribute("aria-current", "true")


def test_the_page_only_reads(page: Page, desk: FakeDeskApi) -> None:
    requested: list[Request] = []

    def on_request(request: Request) -> None:  # Playwright cannot take list.append itself
        requested.append(request)

    page.on("request", on_request)
    story = entrapment_story(now())
    desk.put(story)
    open_desk(page, desk, f"#alert={story['alert_id']}")
    expect(page.locator(".lanes > .lane")).to_have_count(4)
    assert {r.method for r in desk.requests} == {"GET"}
    assert all(r.url.startswith(desk.url("/")) for r in requested), [r.url for r in requested]
    buttons: list[str] = page.locator("button").evaluate_all("bs => bs.map(b => b.id)")
    assert buttons == ["story-close"]
    expect(page.locator("form")).to_have_count(0)
    expect(page.locator("#account")).to_be_hidden()  # no sign-in without DESK_CONFIG.auth


# ---------------------------------------------------------------- sign-in (Cognito hosted UI, PKCE)


def b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def with_sign_in(desk: FakeDeskApi) -> dict[str, Any]:
    auth = {
        "domain": AUTH_DOMAIN,
        "client_id": "desk-client",
        "redirect_uri": desk.url("/desk"),
        "scopes": ["openid", "email"],
    }
    desk.config["auth"] = auth
    return auth


def unsigned_jwt(claims: dict[str, Any]) -> str:
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_sign_in_uses_the_code_flow_with_pkce(page: Page, desk: FakeDeskApi, console: ConsoleLog) -> None:
    auth = with_sign_in(desk)
    desk.token = "access-1"
    alert = an_alert("LIFT-A")
    desk.put(alert)
    authorize: list[dict[str, list[str]]] = []
    token_forms: list[dict[str, list[str]]] = []
    token_types: list[str] = []

    def cognito(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.path == "/oauth2/authorize":
            query = parse_qs(url.query)
            authorize.append(query)
            back = f"{query['redirect_uri'][0]}?code=the-code&state={quote(query['state'][0])}"
            route.fulfill(status=302, headers={"Location": back})
        elif url.path == "/oauth2/token" and route.request.method == "POST":
            token_forms.append(parse_qs(route.request.post_data or ""))
            token_types.append(route.request.headers.get("content-type", ""))
            tokens = {
                "access_token": "access-1",
                "id_token": unsigned_jwt({"email": "desk@example.test"}),
                "expires_in": 3600,
                "token_type": "Bearer",
            }
            route.fulfill(
                status=200,
                headers={"Access-Control-Allow-Origin": "*"},
                content_type="application/json",
                body=json.dumps(tokens),
            )
        else:
            route.fulfill(status=404, body="")

    page.route(f"{AUTH_DOMAIN}/**", cognito)
    open_desk(page, desk, f"#alert={alert['alert_id']}")
    expect(row(page, alert)).to_be_visible()
    expect(page.locator("#story-title")).to_have_text("LIFT-A · Sandton Office Park")

    assert len(authorize) == 1
    query = authorize[0]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["desk-client"]
    assert query["redirect_uri"] == [auth["redirect_uri"]]
    assert query["scope"] == ["openid email"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 16
    form = token_forms[0]
    assert form["grant_type"] == ["authorization_code"]
    assert form["client_id"] == ["desk-client"]
    assert form["code"] == ["the-code"]
    assert form["redirect_uri"] == [auth["redirect_uri"]]
    verifier = form["code_verifier"][0]
    assert 43 <= len(verifier) <= 128
    assert re.fullmatch(r"[A-Za-z0-9_-]+", verifier)
    assert query["code_challenge"] == [b64url_sha256(verifier)]
    assert token_types[0].startswith("application/x-www-form-urlencoded")

    assert "code=" not in page.url
    assert "state=" not in page.url
    assert page.url == desk.url("/desk") + f"#alert={alert['alert_id']}"
    calls = desk.api_requests()
    assert calls
    assert all(r.headers.get("authorization") == "Bearer access-1" for r in calls)
    expect(page.locator("#account")).to_contain_text("Signed in as desk@example.test")
    logout = f"{AUTH_DOMAIN}/logout?client_id=desk-client&logout_uri={quote(auth['redirect_uri'], safe='')}"
    expect(page.locator("#sign-out")).to_have_attribute("href", logout)

    # A 401 straight after signing in: said so on the page, no redirect loop.
    console.expect(r"Failed to load resource: .* 401")
    desk.token = "someone-else"
    expect(page.locator("#account")).to_contain_text("refused this account (401)")
    assert len(authorize) == 1


def test_a_sign_in_answer_that_does_not_match_the_request_is_refused(page: Page, desk: FakeDeskApi) -> None:
    with_sign_in(desk)
    token_requests: list[str] = []

    def cognito(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.path == "/oauth2/authorize":
            redirect = parse_qs(url.query)["redirect_uri"][0]
            route.fulfill(status=302, headers={"Location": f"{redirect}?code=stolen&state=forged"})
        else:
            token_requests.append(route.request.url)
            route.fulfill(status=500, body="")

    page.route(f"{AUTH_DOMAIN}/**", cognito)
    open_desk(page, desk)
    expect(page.locator("#account [role=alert]")).to_contain_text("Sign-in failed")
    expect(page.locator("#sign-in")).to_be_visible()
    assert token_requests == []
    assert "code=" not in page.url
    assert desk.api_requests() == []


def test_a_401_from_the_api_signs_in_again(page: Page, desk: FakeDeskApi, console: ConsoleLog) -> None:
    console.expect(r"Failed to load resource: .* 401")
    with_sign_in(desk)
    desk.token = "fresh"
    # This tab signed in an hour ago; the service no longer takes that token.
    stale = {"access_token": "stale", "id_token": None, "expires_at": 0, "obtained_at": 0}
    page.add_init_script(
        f"""if (location.origin === {json.dumps(desk.url(""))} && !sessionStorage.getItem('seeded')) {{
              const tokens = {json.dumps(stale)};
              tokens.expires_at = Date.now() + 3600e3; tokens.obtained_at = Date.now() - 3600e3;
              sessionStorage.setItem('desk.auth.tokens', JSON.stringify(tokens));
              sessionStorage.setItem('seeded', '1');
            }}"""
    )
    page.route(
        f"{AUTH_DOMAIN}/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>sign in</p>"),
    )
    open_desk(page, desk)
    page.wait_for_url(
        re.compile(re.escape(f"{AUTH_DOMAIN}/oauth2/authorize?") + ".*code_challenge_method=S256")
    )
    assert any(r.headers.get("authorization") == "Bearer stale" for r in desk.api_requests())


# ---------------------------------------------------------------- screenshots (DESK_SCREENSHOTS=1)


@pytest.mark.skipif(
    os.environ.get("DESK_SCREENSHOTS") != "1", reason="set DESK_SCREENSHOTS=1 to write docs/desk/*.png"
)
def test_screenshots_for_the_docs(page: Page, desk: FakeDeskApi) -> None:
    """docs/desk/: the board and a story at a desk's width and a phone's (the phone's whole page)."""
    board = sample_board(now())
    desk.put(*board)
    out = ROOT / "docs" / "desk"
    out.mkdir(parents=True, exist_ok=True)
    for width, height, story_height, name in ((1440, 900, 1500, "desktop"), (360, 740, 740, "360")):
        page.set_viewport_size({"width": width, "height": height})
        open_desk(page, desk)
        expect(page.locator("#rows tr.row")).to_have_count(len(board))
        page.screenshot(path=out / f"board-{name}.png", full_page=name == "360")
        page.set_viewport_size({"width": width, "height": story_height})
        page.evaluate(f"location.hash = '#alert={board[1]['alert_id']}'")
        expect(page.locator(".lanes > .lane")).to_have_count(4)
        page.locator("#story-title").evaluate("el => el.blur()")
        page.screenshot(path=out / f"story-{name}.png", full_page=name == "360")
        page.evaluate("location.hash = ''")
