"""On resolve the customer gets a 1-5 survey; their number is stored as the conversation's CSAT."""

from __future__ import annotations

import asyncio

import pytest

from crm_core.csat import parse_rating
from crm_core.enums import Role
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        (" 4/5 ", 4),
        ("3 sao", 3),
        ("2 stars", 2),
        ("⭐⭐⭐⭐", 4),
        ("1.", 1),
        ("6", None),
        ("10", None),
        ("5 phút nữa mình gọi", None),
        ("", None),
    ],
)
def test_parse_rating(text: str, score: int | None) -> None:
    assert parse_rating(text) == score


async def _resolve_after_handoff(harness: Harness, fake: FakeTelegram) -> str:
    await harness.telegram(updates.text_update(650001, "cho mình gặp nhân viên"))
    await fake.wait_for_sent(1)
    await harness.settle()
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    headers = {"Authorization": f"Bearer {await harness.key(Role.AGENT)}"}
    path = f"/api/v1/conversations/{conversation['id']}"
    await harness.client.post(f"{path}/messages", json={"text": "Em đây ạ"}, headers=headers)
    resolved = await harness.client.post(f"{path}/resolve", headers=headers)
    assert resolved.json()["status"] == "resolved"
    survey = await fake.wait_for_sent(3)
    assert "1 đến 5" in survey[-1]["text"]
    return str(conversation["id"])


async def test_rating_is_stored_and_thanked(harness: Harness, fake_telegram: FakeTelegram) -> None:
    conversation_id = await _resolve_after_handoff(harness, fake_telegram)
    await harness.telegram(updates.text_update(650002, "5"))
    sent = await fake_telegram.wait_for_sent(4)
    assert "Cảm ơn bạn đã đánh giá" in sent[-1]["text"]
    await harness.settle()
    conversation = (await harness.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert conversation["csat"] == 5
    assert len((await harness.get("/api/v1/conversations")).json()["items"]) == 1
    # Answered once: a later "4" is an ordinary message in a new conversation.
    await harness.telegram(updates.text_update(650003, "4"))
    await harness.settle()
    assert len((await harness.get("/api/v1/conversations")).json()["items"]) == 2
    conversation = (await harness.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert conversation["csat"] == 5


async def test_other_text_after_the_survey_starts_a_new_conversation(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    conversation_id = await _resolve_after_handoff(harness, fake_telegram)
    await harness.telegram(updates.text_update(650010, "giờ mở cửa"))
    await fake_telegram.wait_for_sent(4)
    await harness.settle()
    await asyncio.sleep(0.2)
    conversations = (await harness.get("/api/v1/conversations")).json()["items"]
    assert len(conversations) == 2
    old = next(c for c in conversations if c["id"] == conversation_id)
    assert old["csat"] is None
