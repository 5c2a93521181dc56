"""The FAQ knowledge base over REST, and the bot answering what was just added (no restart)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from crm_core.enums import Role
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram

PETS: dict[str, Any] = {
    "key": "pets",
    "questions": ["có cho mang thú cưng không", "are pets allowed"],
    "answer_vi": "Spa không nhận thú cưng ạ.",
    "answer_en": "Sorry, pets are not allowed.",
}


async def _call(
    harness: Harness, method: str, path: str, role: Role = Role.SUPERVISOR, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await harness.key(role)}"}
    return await harness.client.request(method, path, headers=headers, **kwargs)


async def test_shipped_faq_is_seeded_and_listed(harness: Harness) -> None:
    response = await _call(harness, "GET", "/api/v1/faq", Role.AGENT, params={"limit": 200})
    assert response.status_code == 200
    keys = {item["key"] for item in response.json()["items"]}
    assert {"opening_hours", "address", "wifi"} <= keys
    one = await _call(harness, "GET", "/api/v1/faq/opening_hours", Role.AGENT)
    assert one.status_code == 200 and "giờ mở cửa" in one.json()["questions"]


async def test_match_tolerates_missing_diacritics(harness: Harness) -> None:
    for text in ("giờ mở cửa", "gio mo cua", "GIO MO CUA?"):
        response = await _call(harness, "GET", "/api/v1/faq/match", Role.AGENT, params={"q": text})
        assert response.json()["key"] == "opening_hours", text
    english = await _call(
        harness,
        "GET",
        "/api/v1/faq/match",
        Role.AGENT,
        params={"q": "opening hours", "language": "en"},
    )
    assert english.json()["answer"].startswith("Omni Spa & Clinic is open")
    nothing = await _call(
        harness, "GET", "/api/v1/faq/match", Role.AGENT, params={"q": "con mèo màu gì"}
    )
    assert nothing.json() == {"key": None, "score": None, "answer": None}


async def test_writes_need_a_supervisor(harness: Harness) -> None:
    assert (await harness.client.get("/api/v1/faq")).status_code == 401
    for method, path, body in (
        ("POST", "/api/v1/faq", PETS),
        ("PATCH", "/api/v1/faq/wifi", {"answer_vi": "x"}),
        ("DELETE", "/api/v1/faq/wifi", None),
    ):
        response = await _call(harness, method, path, Role.AGENT, json=body)
        assert response.status_code == 403, (method, path)
    still = await _call(harness, "GET", "/api/v1/faq/wifi", Role.AGENT)
    assert still.status_code == 200


async def test_crud_and_validation(harness: Harness) -> None:
    created = await _call(harness, "POST", "/api/v1/faq", json=PETS)
    assert created.status_code == 201, created.text
    assert created.json()["active"] is True and created.json()["offer_human"] is False
    again = await _call(harness, "POST", "/api/v1/faq", json=PETS)
    assert again.status_code == 409
    for body in (
        {**PETS, "key": "Has Spaces"},
        {**PETS, "key": "x", "questions": []},
        {**PETS, "key": "x", "answer_vi": "", "answer_en": ""},
        {**PETS, "key": "x", "id": "chosen-by-me"},
    ):
        response = await _call(harness, "POST", "/api/v1/faq", json=body)
        assert response.status_code == 422, body
    patched = await _call(
        harness, "PATCH", "/api/v1/faq/pets", Role.ADMIN, json={"offer_human": True}
    )
    assert patched.status_code == 200
    assert patched.json()["offer_human"] is True
    assert patched.json()["answer_vi"] == PETS["answer_vi"]
    for body in ({"key": "renamed"}, {"created_at": "2020-01-01T00:00:00Z"}, {"answer_vi": None}):
        refused = await _call(harness, "PATCH", "/api/v1/faq/pets", json=body)
        assert refused.status_code == 422, body
    assert (await _call(harness, "PATCH", "/api/v1/faq/nope", json={})).status_code == 404
    deleted = await _call(harness, "DELETE", "/api/v1/faq/pets")
    assert deleted.status_code == 204
    assert (await _call(harness, "GET", "/api/v1/faq/pets")).status_code == 404


async def _webchat_answer(harness: Harness, text: str, client_id: str) -> str:
    """Send `text` from a new web chat visitor and return the bot's first reply."""
    session = (await harness.client.post("/api/v1/webchat/sessions", json={})).json()
    headers = {"X-Webchat-Token": session["token"]}
    await harness.client.post(
        "/api/v1/webchat/messages",
        json={"session_id": session["session_id"], "text": text, "client_message_id": client_id},
        headers=headers,
    )
    for _ in range(100):
        items = (
            await harness.client.get(
                "/api/v1/webchat/messages",
                params={"session_id": session["session_id"]},
                headers=headers,
            )
        ).json()["items"]
        replies = [m["text"] for m in items if m["direction"] == "out"]
        if replies:
            return replies[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not answer")


async def test_entry_added_by_api_is_answered_by_the_bot_at_once(harness: Harness) -> None:
    question = "cho mang thu cung vao spa duoc khong"
    before = await _webchat_answer(harness, question, "q1")
    assert before != PETS["answer_vi"]
    assert (await _call(harness, "POST", "/api/v1/faq", json=PETS)).status_code == 201
    assert await _webchat_answer(harness, question, "q2") == PETS["answer_vi"]
    await _call(harness, "PATCH", "/api/v1/faq/pets", json={"active": False})
    assert await _webchat_answer(harness, question, "q3") != PETS["answer_vi"]


async def test_entry_added_by_api_is_answered_on_telegram(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    assert (await _call(harness, "POST", "/api/v1/faq", json=PETS)).status_code == 201
    response = await harness.telegram(updates.text_update(901, "Are pets allowed?"))
    assert response.status_code == 200
    sent = await fake_telegram.wait_for_sent(1)
    assert sent[-1]["text"] == PETS["answer_en"]
