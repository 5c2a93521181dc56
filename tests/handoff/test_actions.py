"""Conversation ownership over REST: handoff, claim (one winner), agent reply, notes, resolve."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from crm_core.auth import create_agent
from crm_core.enums import Role
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _agent(harness: Harness, email: str, name: str) -> str:
    async with harness.runtime.db.transaction() as session:
        agent = await create_agent(
            session, email=email, role=Role.AGENT, password="long-enough-1", name=name
        )
        return agent.id


async def _act(harness: Harness, conversation_id: str, action: str, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await harness.key(Role.AGENT)}"}
    path = f"/api/v1/conversations/{conversation_id}/{action}"
    return await harness.client.post(path, json=body or None, headers=headers)


async def _conversation(harness: Harness) -> dict[str, Any]:
    [conversation] = (await harness.get("/api/v1/conversations", status="waiting_agent")).json()[
        "items"
    ]
    return conversation


async def test_claim_reply_note_resolve(harness: Harness, fake_telegram: FakeTelegram) -> None:
    mai = await _agent(harness, "mai@example.com", "Mai")
    await harness.telegram(updates.text_update(610001, "cho mình gặp nhân viên"))
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    conversation = await _conversation(harness)

    claimed = await _act(harness, conversation["id"], "claim", agent_id=mai)
    assert claimed.status_code == 200
    assert claimed.json()["status"] == "agent" and claimed.json()["assigned_agent_id"] == mai

    sent = await _act(
        harness, conversation["id"], "messages", text="Chào chị, em là Mai ạ.", agent_id=mai
    )
    assert sent.status_code == 201 and sent.json()["note"] is False
    replies = await fake_telegram.wait_for_sent(2)
    assert replies[-1]["text"] == "Chào chị, em là Mai ạ."
    assert sent.json()["message"]["author_type"] == "agent"

    note = await _act(
        harness, conversation["id"], "messages", text="note: khách VIP", agent_id=mai
    )
    assert note.json() == {"note": True, "message": None}

    await harness.telegram(updates.text_update(610002, "dạ vâng, cảm ơn em"))
    await harness.settle()
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent()) == 2  # the bot stays silent; the note went nowhere

    resolved = await _act(harness, conversation["id"], "resolve", agent_id=mai)
    assert resolved.json()["status"] == "resolved"
    again = await _act(harness, conversation["id"], "resolve")
    assert again.status_code == 409

    timeline = await harness.get(f"/api/v1/customers/{conversation['customer_id']}/timeline")
    kinds = [event["kind"] for event in timeline.json()["items"]]
    assert {"claimed", "note", "status_changed"} <= set(kinds)
    noted = next(e for e in timeline.json()["items"] if e["kind"] == "note")
    assert noted["data"]["text"] == "khách VIP" and noted["actor_id"] == mai


async def test_two_simultaneous_claims_have_one_winner(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    first = await _agent(harness, "a@example.com", "A")
    second = await _agent(harness, "b@example.com", "B")
    await harness.telegram(updates.text_update(620001, "talk to a human please"))
    await harness.settle()
    conversation = await _conversation(harness)
    answers = await asyncio.gather(
        _act(harness, conversation["id"], "claim", agent_id=first),
        _act(harness, conversation["id"], "claim", agent_id=second),
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    loser = next(r for r in answers if r.status_code == 409)
    assert loser.json()["error"]["code"] == "already_claimed"


async def test_a_human_reply_takes_the_conversation_from_the_bot(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(630001, "xin chào"))
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    assert conversation["status"] == "bot"
    sent = await _act(harness, conversation["id"], "messages", text="Em chào chị ạ")
    assert sent.status_code == 201
    await fake_telegram.wait_for_sent(2)
    owned = (await harness.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert owned["status"] == "agent"
    back = await _act(harness, conversation["id"], "return-to-bot")
    assert back.json()["status"] == "bot"
    await harness.telegram(updates.text_update(630002, "giờ mở cửa"))
    await fake_telegram.wait_for_sent(3)  # the bot answers again


async def test_unknown_ids_and_empty_replies_are_clear_errors(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    missing = await _act(harness, "nope", "claim")
    assert missing.status_code == 404
    await harness.telegram(updates.text_update(640001, "hi"))
    await harness.settle()
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    empty = await _act(harness, conversation["id"], "messages", text="   ")
    assert empty.status_code == 422
    stranger = await _act(harness, conversation["id"], "claim", agent_id="no-such-agent")
    assert stranger.status_code == 404
    handed = await _act(harness, conversation["id"], "handoff", reason="VIP")
    assert handed.json()["status"] == "waiting_agent"
