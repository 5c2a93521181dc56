"""Browser fixtures: the seeded app on a real port and Debian's headless Chromium via Playwright.

With OMNICRM_TEST_BROWSER=1 (set by `.ci/run`) a missing Chromium or Playwright fails the
tests; without it (a laptop without a browser) they are skipped, saying how to run them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from crm_core.enums import Role
from tests.browser.helpers import VIEWPORT, ConsoleLog, login
from tests.browser.live_server import LiveApp, live_app
from tests.browser.seed import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REQUIRED = os.environ.get("OMNICRM_TEST_BROWSER") == "1"
CHROMIUM = os.environ.get("OMNICRM_TEST_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 10_000  # a local server answers in well under a second
HOW = "apt-get install chromium, then OMNICRM_TEST_BROWSER=1 make test"


@pytest.fixture(scope="session", autouse=True)
def browser_wanted() -> None:
    """Skip the browser tests unless asked for; the variable makes them mandatory."""
    if not REQUIRED:
        pytest.skip(f"browser tests run with OMNICRM_TEST_BROWSER=1 ({HOW})")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per module; its absence is a failure, never a skip.

    Module scope on purpose: while Playwright's sync API is started it holds an event loop in
    this thread, so it must be gone before the next module's asyncio tests run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"playwright is not installed ({exc}): pip install -e '.[dev]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: {HOW}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The seeded app, started once per test module."""
    with live_app(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="module")
def sessions(browser: Browser, app: LiveApp) -> dict[Role, list[Any]]:
    """Each role's cookies after one real login through the form (argon2 is slow on purpose,
    so the other tests reuse them)."""
    cookies: dict[Role, list[Any]] = {}
    for role, email in app.seeded.emails.items():
        context = browser.new_context(base_url=app.url, locale="en-US")
        landing = login(context.new_page(), email, PASSWORD)
        assert landing is not None and landing.status == 200, role
        cookies[role] = list(context.cookies())
        context.close()
    return cookies


@pytest.fixture
def sign_in(sessions: dict[Role, list[Any]]) -> Callable[[Page, Role], None]:
    """Put a role's session cookie into a page's browser context."""

    def enter(page: Page, role: Role) -> None:
        page.context.add_cookies(sessions[role])

    return enter


@pytest.fixture
def console_log() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, app: LiveApp, console_log: ConsoleLog) -> Iterator[Page]:
    """A fresh English-speaking browser context (own cookies) per test, laptop-sized."""
    context = browser.new_context(base_url=app.url, locale="en-US", viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.on("console", console_log)
    tab.on("pageerror", lambda error: console_log.lines.append(f"pageerror: {error}"))
    yield tab
    context.close()
