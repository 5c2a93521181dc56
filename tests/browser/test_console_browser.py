"""The console in real headless Chromium: log in, filter, read transcripts from every channel,
hostile text stays text, roles hold, the language switches, pages fit a phone, and the CSP
blocks nothing of ours.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crm_core.enums import Role
from tests.browser.helpers import ConsoleLog, login
from tests.browser.live_server import LiveApp
from tests.browser.seed import PASSWORD, SHOWCASE, USERS
from tests.browser.world import CHANNELS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SignIn = Callable[["Page", Role], None]
Sessions = dict[Role, list[Any]]
PHONE = {"width": 390, "height": 844}
NAMES = {thread.channel: thread.customer for thread in SHOWCASE}


def filters(page: Page) -> Locator:
    """The conversation list's filter form (a GET form with a `channel` field)."""
    return page.locator("main form:has([name=channel])")


def apply_filters(page: Page) -> None:
    with page.expect_navigation():
        filters(page).locator("[type=submit]").first.click()


def rows_text(page: Page) -> str:
    return page.locator("main table tbody").inner_text()


def test_login_through_the_form_shows_who_is_signed_in(page: Page, app: LiveApp) -> None:
    email = app.seeded.emails[Role.SUPERVISOR]
    refused = login(page, email, "wrong password")
    assert refused is not None and refused.status == 401
    assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."

    landing = login(page, email, PASSWORD)
    assert landing is not None and landing.status == 200
    assert page.url.endswith("/console/queue")
    assert USERS[Role.SUPERVISOR][1] in page.locator("header").inner_text()
    assert page.get_by_role("button", name="Log out", exact=True).is_visible()


def test_filter_by_channel_then_open_the_transcript(
    page: Page, app: LiveApp, sign_in: SignIn
) -> None:
    sign_in(page, Role.SUPERVISOR)
    page.goto("/console/queue")
    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name="Conversations").click()
    everything = rows_text(page)
    assert NAMES["zalo"] in everything and NAMES["telegram"] in everything

    filters(page).locator("select[name=channel]").select_option("zalo")
    apply_filters(page)
    assert "channel=zalo" in page.url
    listed = rows_text(page)
    assert NAMES["zalo"] in listed
    assert NAMES["telegram"] not in listed and NAMES["sms"] not in listed

    with page.expect_navigation():
        page.locator("main table").get_by_role("link", name=NAMES["zalo"]).first.click()
    assert page.url.endswith(f"/console/conversations/{app.seeded.conversations['zalo']}")
    assert app.seeded.openings["zalo"] in page.locator("main").inner_text()


def test_search_without_diacritics_finds_the_vietnamese_message(
    page: Page, app: LiveApp, sign_in: SignIn
) -> None:
    sign_in(page, Role.SUPERVISOR)
    page.goto("/console")
    filters(page).locator("[name=q]").fill("dat lich cham soc da mat")
    apply_filters(page)
    listed = rows_text(page)
    assert NAMES["telegram"] in listed  # "đặt lịch chăm sóc da mặt"
    assert NAMES["zalo"] not in listed and NAMES["email"] not in listed


@pytest.mark.parametrize("channel", CHANNELS)
def test_transcript_shows_the_message_from_each_channel(
    page: Page, app: LiveApp, sign_in: SignIn, channel: str
) -> None:
    sign_in(page, Role.AGENT)
    response = page.goto(f"/console/conversations/{app.seeded.conversations[channel]}")
    assert response is not None and response.status == 200
    transcript = page.locator("main")
    assert transcript.get_by_text(app.seeded.openings[channel], exact=True).is_visible()
    assert channel in transcript.inner_text()


def test_screenshot_of_a_transcript_is_a_png(
    page: Page, app: LiveApp, sign_in: SignIn, tmp_path: Path
) -> None:
    sign_in(page, Role.SUPERVISOR)
    page.goto(f"/console/conversations/{app.seeded.conversations['telegram']}")
    target = tmp_path / "transcript.png"
    page.screenshot(path=str(target), full_page=True)
    data = target.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert width == 1280 and height >= 800
    assert len(data) > 10_000  # a rendered page, not a blank one


def test_hostile_customer_message_renders_as_inert_text(
    page: Page, app: LiveApp, sign_in: SignIn, console_log: ConsoleLog
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, Role.SUPERVISOR)
    response = page.goto(f"/console/conversations/{app.seeded.hostile_id}")
    assert response is not None and response.status == 200
    page.wait_for_load_state("load")

    main = page.locator("main")
    shown = main.inner_text()
    assert "<script>alert(1)</script>" in shown
    assert '<img src=x onerror="window.__xss=1">' in shown
    assert '<a href="javascript:window.__xss=2">click</a>' in shown
    assert "[x](javascript:alert(1))" in shown
    assert main.locator("script").count() == 0
    assert main.locator("img[onerror]").count() == 0
    assert main.locator("img[src=x]").count() == 0
    javascript_links = page.evaluate(
        "Array.from(document.querySelectorAll('a')).filter(a => a.protocol === 'javascript:')"
        ".map(a => a.outerHTML)"
    )
    assert javascript_links == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
    assert console_log.csp_violations() == []


def test_agent_gets_403_on_the_export_page(page: Page, app: LiveApp, sign_in: SignIn) -> None:
    sign_in(page, Role.AGENT)
    refused = page.goto("/console/export")
    assert refused is not None and refused.status == 403
    assert "/console/export" in page.url  # refused in place, not sent elsewhere


def test_supervisor_opens_the_export_page(page: Page, app: LiveApp, sign_in: SignIn) -> None:
    sign_in(page, Role.SUPERVISOR)
    opened = page.goto("/console/export")
    assert opened is not None and opened.status == 200


def test_language_switcher_changes_the_page_language(
    page: Page, app: LiveApp, sign_in: SignIn
) -> None:
    sign_in(page, Role.SUPERVISOR)
    page.goto("/console")
    assert page.locator("html").get_attribute("lang") == "en"
    nav = page.locator("header nav")
    assert nav.get_by_role("link", name="Conversations").is_visible()

    switcher = page.locator("form[action='/console/language']")
    switcher.locator("select[name=to]").select_option("vi")
    with page.expect_navigation():
        switcher.locator("[type=submit]").click()
    assert page.locator("html").get_attribute("lang") == "vi"
    assert nav.get_by_role("link", name="Hội thoại").is_visible()
    assert page.url.endswith("/console")  # back on the same page

    page.goto(f"/console/conversations/{app.seeded.conversations['sms']}")
    assert page.locator("html").get_attribute("lang") == "vi"  # remembered


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_console_pages_load_without_csp_violations(
    page: Page, app: LiveApp, sign_in: SignIn, console_log: ConsoleLog, role: Role
) -> None:
    sign_in(page, role)
    pages = ["/console", "/console/queue", "/console?channel=email"]
    pages += [f"/console/conversations/{app.seeded.conversations[c]}" for c in CHANNELS]
    if role is Role.SUPERVISOR:
        pages += ["/console/dashboard", "/console/export"]
    for path in pages:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("load")
    assert console_log.csp_violations() == []
    assert [line for line in console_log.lines if line.startswith("pageerror")] == []


def test_pages_fit_a_phone_screen(browser: Browser, app: LiveApp, sessions: Sessions) -> None:
    """Readable on a phone: no page is wider than the screen (no sideways scrolling)."""
    context = browser.new_context(
        base_url=app.url, locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True
    )
    context.add_cookies(sessions[Role.SUPERVISOR])
    page = context.new_page()
    pages = ["/console/queue", "/console", "/console/dashboard", "/console/export"]
    pages += [f"/console/conversations/{app.seeded.conversations[c]}" for c in CHANNELS]
    widths = {}
    for path in pages:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert widths == dict.fromkeys(pages, PHONE["width"])
