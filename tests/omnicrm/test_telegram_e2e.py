"""One Telegram message through the whole platform, over HTTP, against a fake Bot API."""

from __future__ import annotations

import asyncio

from crm_core import demo
from crm_core.enums import Role
from crm_core.models import InboxEvent, Message
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def test_update_produces_one_reply_and_is_visible_through_the_api(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    response = await harness.telegram(updates.text_update(881000101, "Xin chào"))
    assert response.status_code == 200
    assert response.json()["stored"] == 1

    sent = await fake_telegram.wait_for_sent(1)
    await harness.settle()
    assert len(sent) == 1
    assert int(sent[0]["chat_id"]) == 4200000101
    assert "Chào" in sent[0]["text"] or "chào" in sent[0]["text"]

    found = await harness.get("/api/v1/customers", identity="telegram:4200000101")
    assert found.status_code == 200
    [customer] = found.json()["items"]
    assert customer["name"] == "Lan Nguyen"
    assert customer["identities"][0] == {
        "channel": "telegram",
        "external_id": "4200000101",
        "display_name": "Lan Nguyen",
        "username": None,
        "opted_out_at": None,
    }

    conversations = await harness.get("/api/v1/conversations", customer_id=customer["id"])
    [conversation] = conversations.json()["items"]
    assert conversation["channel"] == "telegram"
    assert conversation["status"] == "bot"

    messages = (await harness.get(f"/api/v1/conversations/{conversation['id']}/messages")).json()
    assert [(m["direction"], m["author_type"]) for m in messages["items"]] == [
        ("in", "customer"),
        ("out", "bot"),
    ]
    inbound, outbound = messages["items"]
    assert inbound["text"] == "Xin chào" and inbound["status"] == "received"
    assert inbound["intent"] == "greet"
    assert outbound["status"] == "sent" and outbound["text"] == sent[0]["text"]

    timeline = (await harness.get(f"/api/v1/customers/{customer['id']}/timeline")).json()
    kinds = [event["kind"] for event in timeline["items"]]
    assert kinds[:2] == ["identity_linked", "conversation_opened"]
    assert "message_received" in kinds and "reply_queued" in kinds


async def test_english_greeting_gets_an_english_answer(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(881000200, "hi there", user_id=4200000555))
    [reply] = await fake_telegram.wait_for_sent(1)
    assert any(word in reply["text"] for word in ("Hi", "Hello", "Welcome"))


async def test_same_update_twice_stores_one_message_and_sends_one_reply(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    update = updates.text_update(881000102, "xin chao")
    first = await harness.telegram(update)
    second = await harness.telegram(update)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicates"] == 1
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    await asyncio.sleep(0.3)  # give a wrongly queued second reply the time to show up
    assert len(fake_telegram.sent()) == 1
    assert await harness.count(Message, direction="in") == 1
    assert await harness.count(InboxEvent) == 1


async def test_twenty_concurrent_deliveries_store_one_message(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    update = updates.text_update(881000103, "Xin chào shop")
    responses = await asyncio.gather(*(harness.telegram(update) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["stored"] for r in responses) == 1
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent()) == 1
    assert await harness.count(Message, direction="in") == 1
    assert await harness.count(Message, direction="out") == 1


async def test_wrong_or_missing_secret_is_refused_and_stores_nothing(harness: Harness) -> None:
    missing = await harness.telegram(updates.text_update(881000104, "hi"), secret=None)
    wrong = await harness.telegram(updates.text_update(881000105, "hi"), secret="not-the-secret")
    assert missing.status_code == 401
    assert wrong.status_code == 403
    assert missing.json()["error"]["code"] == "missing_signature"
    assert await harness.count(InboxEvent) == 0
    assert await harness.count(Message) == 0


async def test_malformed_json_is_a_400_with_a_reason(harness: Harness) -> None:
    response = await harness.client.post(
        "/webhooks/telegram",
        content=b'{"update_id": 1, "message": ',
        headers={
            "X-Telegram-Bot-Api-Secret-Token": "test-secret_token-1",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    wrong_type = await harness.telegram({"update_id": "not-a-number"})
    assert wrong_type.status_code == 400
    assert "update_id" in wrong_type.json()["error"]["message"]
    assert await harness.count(InboxEvent) == 0


async def test_edited_messages_are_acknowledged_and_ignored(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    response = await harness.telegram(updates.edited_update(881000106, "sửa lại"))
    assert response.status_code == 200
    assert response.json()["ignored"].startswith("update type edited_message")
    assert await harness.count(InboxEvent) == 0
    assert fake_telegram.sent() == []


async def test_oversized_body_is_refused_before_storing(harness: Harness) -> None:
    limit = harness.runtime.settings.max_webhook_body_bytes
    update = updates.text_update(881000107, "x" * (limit + 10))
    response = await harness.telegram(update)
    assert response.status_code == 413
    assert await harness.count(InboxEvent) == 0


async def test_api_keys_and_roles(harness: Harness) -> None:
    no_key = await harness.client.get("/api/v1/customers")
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "unauthorized"
    bad_key = await harness.client.get(
        "/api/v1/customers", headers={"Authorization": "Bearer omk_abc_def"}
    )
    assert bad_key.status_code == 401
    agent_parse = await harness.client.post(
        "/api/v1/nlu/parse",
        json={"text": "xin chào"},
        headers={"Authorization": f"Bearer {await harness.key(Role.AGENT)}"},
    )
    assert agent_parse.status_code == 403
    assert agent_parse.json()["error"]["code"] == "forbidden"
    supervisor_parse = await harness.client.post(
        "/api/v1/nlu/parse",
        json={"text": "xin chào"},
        headers={"Authorization": f"Bearer {await harness.key(Role.SUPERVISOR)}"},
    )
    assert supervisor_parse.status_code == 200
    assert supervisor_parse.json()["intent"]["name"] == "greet"
    agent_read = await harness.get("/api/v1/conversations", role=Role.AGENT)
    assert agent_read.status_code == 200


async def test_agent_key_cannot_call_admin_endpoints(harness: Harness) -> None:
    agent = {"Authorization": f"Bearer {await harness.key(Role.AGENT)}"}
    admin = {"Authorization": f"Bearer {await harness.key(Role.ADMIN)}"}
    body = {"name": "ci", "role": "agent"}
    refused = await harness.client.post("/api/v1/api-keys", json=body, headers=agent)
    assert refused.status_code == 403
    created = await harness.client.post("/api/v1/api-keys", json=body, headers=admin)
    assert created.status_code == 201
    new_key = created.json()["key"]
    listed = await harness.client.get(
        "/api/v1/customers", headers={"Authorization": f"Bearer {new_key}"}
    )
    assert listed.status_code == 200
    keys = (await harness.client.get("/api/v1/api-keys", headers=admin)).json()["items"]
    assert all("key" not in item and "key_hash" not in item for item in keys)


async def test_asking_for_a_human_hands_off_and_the_bot_then_stays_silent(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(881000300, "cho mình gặp nhân viên tư vấn"))
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    assert conversation["status"] == "waiting_agent"

    await harness.telegram(updates.text_update(881000301, "alo, có ai không?"))
    await harness.settle()
    await asyncio.sleep(0.3)
    assert len(fake_telegram.sent()) == 1  # the bot said nothing more
    inbound = (await harness.get("/api/v1/messages", direction="in")).json()["items"]
    assert [m["text"] for m in inbound] == ["cho mình gặp nhân viên tư vấn", "alo, có ai không?"]

    timeline = await harness.get(f"/api/v1/customers/{conversation['customer_id']}/timeline")
    changes = [e for e in timeline.json()["items"] if e["kind"] == "status_changed"]
    assert changes[0]["actor_type"] == "bot"
    assert changes[0]["data"]["from"] == "bot" and changes[0]["data"]["to"] == "waiting_agent"


async def test_two_misunderstandings_in_a_row_hand_off(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(881000400, "qwzx plimf trabb"))
    first = await fake_telegram.wait_for_sent(1)
    assert "nhân viên" in first[0]["text"]  # offers a human, honestly
    await harness.telegram(updates.text_update(881000401, "vrrbl snok gazz"))
    await fake_telegram.wait_for_sent(2)
    await harness.settle()
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    assert conversation["status"] == "waiting_agent"


async def test_returning_customer_is_greeted_by_name(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    async with harness.runtime.db.transaction() as session:
        await demo.seed(session)
    await harness.telegram(updates.text_update(881000500, "chào shop", user_id=4200000001))
    [reply] = await fake_telegram.wait_for_sent(1)
    assert "Lan" in reply["text"]
    await harness.settle()
    found = (await harness.get("/api/v1/customers", identity="telegram:4200000001")).json()
    assert found["items"][0]["name"] == "Nguyễn Thị Lan"  # the profile name is kept
