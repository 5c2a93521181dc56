"""Steps a person takes in the console, shared by the browser tests and the screenshot script."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Response

VIEWPORT = {"width": 1280, "height": 800}  # a laptop


class ConsoleLog:
    """The browser console's messages, kept so tests can assert nothing was blocked."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: ConsoleMessage) -> None:
        self.lines.append(f"{message.type}: {message.text}")

    def csp_violations(self) -> list[str]:
        return [line for line in self.lines if "Content Security Policy" in line]


def login(page: Page, email: str, password: str) -> Response | None:
    """Log in through the form, as a person would; the response of the page landed on."""
    page.goto("/console")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation() as landing:
        page.get_by_role("button", name="Log in").click()
    return landing.value
