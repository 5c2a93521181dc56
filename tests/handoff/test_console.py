"""The web console: login with e-mail and password, the conversation list, a transcript."""

from __future__ import annotations

import asyncio

from crm_core.auth import create_agent
from crm_core.enums import Role
from handoff.console.sessions import SessionSigner
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _agent(harness: Harness) -> None:
    async with harness.runtime.db.transaction() as session:
        await create_agent(
            session, email="mai@example.com", role=Role.AGENT, password="s3cret-pass", name="Mai"
        )


async def test_login_then_read_a_transcript(harness: Harness, fake_telegram: FakeTelegram) -> None:
    await _agent(harness)
    await harness.telegram(updates.text_update(220001, "<script>alert(1)</script> xin chào"))
    await harness.settle()

    anonymous = await harness.client.get("/console")
    assert anonymous.status_code == 200 and 'action="/console/login"' in anonymous.text

    wrong = await harness.client.post(
        "/console/login", data={"email": "mai@example.com", "password": "nope"}
    )
    assert wrong.status_code == 401 and "Sai e-mail hoặc mật khẩu" in wrong.text

    login = await harness.client.post(
        "/console/login", data={"email": "MAI@example.com", "password": "s3cret-pass"}
    )
    assert login.status_code == 303
    cookie = login.cookies.get("omnicrm_console")
    assert cookie and "httponly" in login.headers["set-cookie"].lower()

    listing = await harness.client.get("/console", cookies={"omnicrm_console": cookie})
    assert "Lan Nguyen" in listing.text and "Mai" in listing.text
    conversation_id = listing.text.split("/console/conversations/")[1].split('"')[0]

    page = await harness.client.get(
        f"/console/conversations/{conversation_id}", cookies={"omnicrm_console": cookie}
    )
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; xin chào" in page.text
    assert "<script>alert(1)" not in page.text
    assert "mở hội thoại trên telegram" in page.text and "greet" in page.text


async def test_forged_or_expired_cookie_is_not_a_session() -> None:
    signer = SessionSigner(b"k" * 32, max_age_s=60)
    cookie = signer.issue("agent-1", now=1000)
    assert signer.read(cookie, now=1030) is not None
    assert signer.read(cookie, now=1100) is None
    assert signer.read(cookie.replace("agent-1", "agent-2"), now=1030) is None
    assert signer.read("garbage", now=1030) is None
    assert SessionSigner(b"x" * 32).read(cookie, now=1030) is None


async def test_logout_needs_the_csrf_token(harness: Harness) -> None:
    await _agent(harness)
    login = await harness.client.post(
        "/console/login", data={"email": "mai@example.com", "password": "s3cret-pass"}
    )
    cookie = login.cookies["omnicrm_console"]
    forged = await harness.client.post(
        "/console/logout", data={"csrf": "guess"}, cookies={"omnicrm_console": cookie}
    )
    assert forged.status_code == 403
    page = await harness.client.get("/console", cookies={"omnicrm_console": cookie})
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    out = await harness.client.post(
        "/console/logout", data={"csrf": token}, cookies={"omnicrm_console": cookie}
    )
    assert out.status_code == 303
    assert (
        'omnicrm_console=""' in out.headers["set-cookie"]
        or "Max-Age=0" in out.headers["set-cookie"]
    )


async def test_console_claim_reply_and_resolve_reach_the_customer(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await _agent(harness)
    await harness.telegram(updates.text_update(230001, "cho mình gặp nhân viên"))
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    login = await harness.client.post(
        "/console/login", data={"email": "mai@example.com", "password": "s3cret-pass"}
    )
    cookies = {"omnicrm_console": login.cookies["omnicrm_console"]}
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    page_url = f"/console/conversations/{conversation['id']}"
    page = await harness.client.get(page_url, cookies=cookies)
    token = page.text.split('name="csrf" value="')[1].split('"')[0]

    forged = await harness.client.post(
        f"{page_url}/claim", data={"csrf": "guess"}, cookies=cookies
    )
    assert forged.status_code == 403
    claimed = await harness.client.post(f"{page_url}/claim", data={"csrf": token}, cookies=cookies)
    assert claimed.status_code == 303
    again = await harness.client.post(f"{page_url}/claim", data={"csrf": token}, cookies=cookies)
    assert again.headers["location"].endswith("?error=already_claimed")
    english = {"Accept-Language": "en"}
    shown = await harness.client.get(again.headers["location"], cookies=cookies, headers=english)
    assert "Another agent has already claimed" in shown.text

    await harness.client.post(
        f"{page_url}/reply", data={"csrf": token, "text": "Em Mai đây ạ"}, cookies=cookies
    )
    replies = await fake_telegram.wait_for_sent(2)
    assert replies[-1]["text"] == "Em Mai đây ạ"
    await harness.client.post(
        f"{page_url}/reply", data={"csrf": token, "text": "note: gọi lại sau"}, cookies=cookies
    )
    await harness.client.post(f"{page_url}/resolve", data={"csrf": token}, cookies=cookies)
    final = await harness.client.get(page_url, cookies=cookies)
    assert "resolved" in final.text and "gọi lại sau" in final.text
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent()) == 2  # the note never reached the customer
