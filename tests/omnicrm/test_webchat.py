"""The web chat: page, sessions, messages in, bot replies out by polling, contact details."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _session(harness: Harness, **body: Any) -> dict[str, str]:
    response = await harness.client.post("/api/v1/webchat/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _poll_until(
    harness: Harness, session: dict[str, str], count: int
) -> list[dict[str, Any]]:
    headers = {"X-Webchat-Token": session["token"]}
    for _ in range(100):
        response = await harness.client.get(
            "/api/v1/webchat/messages",
            params={"session_id": session["session_id"]},
            headers=headers,
        )
        assert response.status_code == 200
        items = response.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} messages, got {items}")


async def _send(harness: Harness, session: dict[str, str], text: str, client_id: str) -> Any:
    return await harness.client.post(
        "/api/v1/webchat/messages",
        json={"session_id": session["session_id"], "text": text, "client_message_id": client_id},
        headers={"X-Webchat-Token": session["token"]},
    )


async def test_page_is_served_without_external_assets(harness: Harness) -> None:
    page = await harness.client.get("/webchat")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "/webchat/static/webchat.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    script = await harness.client.get("/webchat/static/webchat.js")
    assert script.status_code == 200 and "fetch" in script.text


async def test_visitor_says_hello_and_the_bot_answers(harness: Harness) -> None:
    session = await _session(harness)
    sent = await _send(harness, session, "Xin chào", "c1")
    assert sent.status_code == 202
    again = await _send(harness, session, "Xin chào", "c1")  # a retried POST
    assert again.json()["duplicate"] is True
    items = await _poll_until(harness, session, 2)
    assert [(m["direction"], m["author_type"]) for m in items] == [
        ("in", "customer"),
        ("out", "bot"),
    ]
    assert items[0]["client_message_id"] == "c1"
    assert "chào" in items[1]["text"].lower()
    await asyncio.sleep(0.2)
    assert len(await _poll_until(harness, session, 2)) == 2


async def test_poll_with_cursor_returns_only_recent_messages(harness: Harness) -> None:
    session = await _session(harness, language="en")
    await _send(harness, session, "hello", "a1")
    items = await _poll_until(harness, session, 2)
    headers = {"X-Webchat-Token": session["token"]}
    first = await harness.client.get(
        "/api/v1/webchat/messages", params={"session_id": session["session_id"]}, headers=headers
    )
    cursor = first.json()["next_cursor"]
    assert cursor
    later = await harness.client.get(
        "/api/v1/webchat/messages",
        params={"session_id": session["session_id"], "after": cursor},
        headers=headers,
    )
    assert {m["id"] for m in later.json()["items"]} <= {m["id"] for m in items}


async def test_wrong_token_and_bad_input_are_refused(harness: Harness) -> None:
    session = await _session(harness)
    wrong = await harness.client.post(
        "/api/v1/webchat/messages",
        json={"session_id": session["session_id"], "text": "hi"},
        headers={"X-Webchat-Token": "guess"},
    )
    assert wrong.status_code == 401
    other = await _session(harness)
    cross = await harness.client.get(
        "/api/v1/webchat/messages",
        params={"session_id": session["session_id"]},
        headers={"X-Webchat-Token": other["token"]},
    )
    assert cross.status_code == 401
    empty = await _send(harness, session, "", "e1")
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "validation_error"
    bad_phone = await harness.client.post(
        f"/api/v1/webchat/sessions/{session['session_id']}/contact",
        json={"phone": "12"},
        headers={"X-Webchat-Token": session["token"]},
    )
    assert bad_phone.status_code == 422
    assert bad_phone.json()["error"]["code"] == "invalid_phone"


async def test_contact_matching_a_verified_customer_joins_them(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    # A Telegram customer verified their phone by sharing their own contact.
    await harness.telegram(updates.contact_update(660001, "84912000111", user_id=4200000777))
    await harness.settle()
    known = await harness.get("/api/v1/customers", phone="0912 000 111")
    [customer] = known.json()["items"]
    assert customer["phones"] == ["+84912000111"]

    session = await _session(harness)
    await _send(harness, session, "hello", "j1")
    await _poll_until(harness, session, 2)
    joined = await harness.client.post(
        f"/api/v1/webchat/sessions/{session['session_id']}/contact",
        json={"name": "Lan", "phone": "0912000111"},
        headers={"X-Webchat-Token": session["token"]},
    )
    assert joined.status_code == 200
    view = (await harness.get(f"/api/v1/customers/{customer['id']}")).json()
    assert sorted(i["channel"] for i in view["identities"]) == ["telegram", "webchat"]
    assert view["stats"]["messages_in"] == 2
    # The session keeps working after the join, with its history.
    assert len(await _poll_until(harness, session, 2)) >= 2
    everyone = (await harness.get("/api/v1/customers")).json()["items"]
    assert len(everyone) == 1
