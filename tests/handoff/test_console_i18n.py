"""The console speaks Vietnamese and English; sessions end everywhere on request; roles hold."""

from __future__ import annotations

import asyncio
import re

import pytest

from crm_core.enums import Role
from handoff.console.i18n import CATALOGUE_DIR, LANGUAGES, catalogue, translator
from handoff.console.web import HERE
from tests.conftest import Harness
from tests.handoff.console_helpers import console_user

KEY_USE = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']""")


def test_every_phrase_used_in_a_template_is_translated() -> None:
    phrases = catalogue()
    modules = [path for path in HERE.glob("*.py") if path.name != "i18n.py"]
    sources = list((HERE / "templates").glob("*.html")) + modules
    used = {key for path in sources for key in KEY_USE.findall(path.read_text("utf-8"))}
    assert used, "templates use t()"
    missing = sorted(used - set(phrases))
    assert missing == []
    for key in used:
        assert all(phrases[key][lang].strip() for lang in LANGUAGES), key


def test_catalogue_files_need_both_languages(tmp_path, monkeypatch) -> None:
    (tmp_path / "broken.yml").write_text('only_english: {en: "Hi"}\n', encoding="utf-8")
    monkeypatch.setattr("handoff.console.i18n.CATALOGUE_DIR", tmp_path)
    catalogue.cache_clear()
    try:
        with pytest.raises(ValueError, match="only_english"):
            catalogue()
    finally:
        catalogue.cache_clear()
    assert CATALOGUE_DIR.name == "translations"


def test_translator_formats_and_falls_back() -> None:
    assert translator("vi")("log_out") == "Đăng xuất"
    assert translator("en")("log_out") == "Log out"
    assert translator("fr")("log_out") == "Log out"
    assert translator("en")("forbidden_text", role="agent").startswith("Your role (agent)")
    assert translator("vi")("no_such_phrase") == "no_such_phrase"


async def test_language_follows_switcher_then_browser(harness: Harness) -> None:
    english = await harness.client.get("/console", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Password" in english.text
    default = await harness.client.get("/console")
    assert '<html lang="vi">' in default.text and "Mật khẩu" in default.text
    switch = await harness.client.get("/console/language", params={"to": "en", "back": "/console"})
    assert switch.status_code == 303 and switch.headers["location"] == "/console"
    chosen = switch.cookies["omnicrm_lang"]
    page = await harness.client.get(
        "/console", cookies={"omnicrm_lang": chosen}, headers={"accept-language": "vi"}
    )
    assert '<html lang="en">' in page.text
    away = await harness.client.get(
        "/console/language", params={"to": "en", "back": "https://evil.example/"}
    )
    assert away.headers["location"] == "/console/queue"  # never an open redirect


async def test_log_out_everywhere_ends_every_session(harness: Harness) -> None:
    phone = await console_user(harness, Role.AGENT)
    login = await harness.client.post(
        "/console/login", data={"email": phone.email, "password": "s3cret-pass"}
    )
    laptop_cookie = login.cookies["omnicrm_console"]
    assert (await harness.client.get("/console/queue", cookies=phone.cookies)).status_code == 200
    forged = await harness.client.post(
        "/console/logout-everywhere", data={"csrf": "guess"}, cookies=phone.cookies
    )
    assert forged.status_code == 403
    done = await harness.client.post(
        "/console/logout-everywhere", data={"csrf": phone.csrf}, cookies=phone.cookies
    )
    assert done.status_code == 303
    for cookie in (phone.cookie, laptop_cookie):
        page = await harness.client.get("/console/queue", cookies={"omnicrm_console": cookie})
        assert page.status_code == 303 and page.headers["location"] == "/console"
    await asyncio.sleep(1.05)  # sessions issued in the second of the logout are also ended
    again = await harness.client.post(
        "/console/login", data={"email": phone.email, "password": "s3cret-pass"}
    )
    fresh = again.cookies["omnicrm_console"]
    ok = await harness.client.get("/console/queue", cookies={"omnicrm_console": fresh})
    assert ok.status_code == 200
