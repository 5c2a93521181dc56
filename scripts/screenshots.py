"""Save the README's console screenshots (`make screenshots`).

Starts the app on the same seeded world as the browser tests, logs in as a supervisor in
headless Chromium at laptop size, and writes one PNG per page into docs/screenshots/.
Run from the repository root: `python -m scripts.screenshots [--lang vi]`.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from crm_core.enums import Role
from tests.browser.helpers import VIEWPORT, login
from tests.browser.live_server import live_app
from tests.browser.seed import PASSWORD, Seeded

# File name → (the page to open given what was seeded, whole page rather than one screen).
SHOTS: dict[str, tuple[Callable[[Seeded], str], bool]] = {
    "conversations.png": (lambda _seeded: "/console", False),
    "transcript.png": (
        lambda seeded: f"/console/conversations/{seeded.conversations['email']}",
        False,
    ),
    "dashboard.png": (lambda _seeded: "/console/dashboard", True),  # every chart
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--lang", choices=("en", "vi"), default="en")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as workdir,
        live_app(Path(workdir)) as app,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
        context = browser.new_context(base_url=app.url, locale=args.lang, viewport=VIEWPORT)
        page = context.new_page()
        login(page, app.seeded.emails[Role.SUPERVISOR], PASSWORD)
        for name, (where, whole) in SHOTS.items():
            capture(page, where(app.seeded), args.out / name, whole=whole)
        browser.close()


def capture(page: Page, path: str, target: Path, *, whole: bool) -> None:
    """Open `path` and save one laptop screen of it (or all of it when `whole`); a page that
    fails stops the run."""
    response = page.goto(path)
    if response is None or response.status != 200:
        status = response.status if response else "nothing"
        raise SystemExit(f"{path} answered {status}: {target} not written")
    page.screenshot(path=str(target), full_page=whole)
    print(f"{target}  ({path})")


if __name__ == "__main__":
    main()
