"""The thread follows the conversation wherever it changes: console, API, scheduler, Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from crm_core import timeline
from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import ContactPoint, Conversation
from handoff.slack import card as cards
from tests.fakes import updates
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.handoff.test_slack import (
    Slacked,
    fake_slack,  # noqa: F401  (fixture)
    hand_off,
    reply_event,
    slack_app,
)


async def _with_agents(running: Slacked) -> None:
    async with running.app.runtime.db.transaction() as session:
        await create_agent(
            session,
            email="mai@example.com",
            role=Role.AGENT,
            password="long-enough-1",
            name="Mai",
        )


@pytest.fixture
async def env(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_slack: FakeSlack,  # noqa: F811
) -> AsyncIterator[Slacked]:
    overrides = {"slack_escalation_mention": "<!subteam^S0CARE>"}
    async with slack_app(database_url, fake_telegram, fake_slack, **overrides) as running:
        await _with_agents(running)
        yield running


def thread_texts(env: Slacked, thread_ts: str) -> list[str]:
    return [str(p["text"]) for p in env.slack.posts(thread_ts=thread_ts)]


async def wait_thread(env: Slacked, thread_ts: str, needle: str, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not any(needle in text for text in thread_texts(env, thread_ts)):
            await env.slack.wait_for("chat.postMessage", len(env.slack.of("chat.postMessage")) + 1)


async def api(env: Slacked, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {await env.app.key()}"}
    answer = await env.app.client.post(f"/api/v1{path}", json=body or {}, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def test_changes_made_elsewhere_reach_card_and_thread(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, thread_ts = await hand_off(env, fake_telegram)
    await api(env, f"/conversations/{conversation_id}/messages", {"text": "Chào chị, em Mai"})
    await wait_thread(env, thread_ts, "Chào chị, em Mai")
    [update] = await env.slack.wait_for("chat.update", 1)  # claimed through the API reply
    assert ":bust_in_silhouette: claimed by" in json.dumps(update["blocks"])

    await api(env, f"/conversations/{conversation_id}/messages", {"text": "note: gọi lại sau"})
    await wait_thread(env, thread_ts, "📝 note by")

    await api(env, f"/conversations/{conversation_id}/resolve")
    await wait_thread(env, thread_ts, ":white_check_mark: Resolved by")
    await wait_thread(env, thread_ts, "1")  # the CSAT survey is mirrored after the resolve line
    updates = await env.slack.wait_for("chat.update", 2)
    final = json.dumps(updates[-1]["blocks"])
    assert "resolved by" in final
    assert not [b for b in updates[-1]["blocks"] if b["type"] == "actions"]

    before = len(env.slack.calls)
    await env.app.telegram(updates_text(710050, "5"))  # the customer rates; the thread is done
    await env.app.settle()
    await asyncio.sleep(0.5)
    assert len(env.slack.calls) == before


def updates_text(update_id: int, text: str) -> dict[str, Any]:
    return updates.text_update(update_id, text)


async def test_slack_replies_and_notes_are_not_echoed(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, thread_ts = await hand_off(env, fake_telegram)
    await env.event(reply_event(thread_ts, "Em chào chị"), event_id="Ev0SYNC0001")
    await env.event(reply_event(thread_ts, "note: VIP"), event_id="Ev0SYNC0002")
    await fake_telegram.wait_for_sent(2)
    await env.app.settle()
    await env.slack.wait_for("chat.update", 1)
    await asyncio.sleep(0.5)
    texts = thread_texts(env, thread_ts)
    assert not [t for t in texts if "Em chào chị" in t or "VIP" in t]


async def test_timeline_events_become_thread_lines(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, thread_ts = await hand_off(env, fake_telegram)
    async with env.app.runtime.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        for kind, data in [
            ("assigned", {"agent_id": "x", "agent_name": "Mai", "by": "round_robin"}),
            ("requeued", {"agent_name": "Mai", "reason": "no_reply", "after_s": 600}),
            ("sla_breached", {"due_at": "2026-01-01T00:00:00Z", "target_s": 900, "waited_s": 960}),
            ("snoozed", {"until": "2026-01-01T02:00:00+00:00", "actor_name": "Mai"}),
            ("unsnoozed", {"reason": "customer_message"}),
            ("assigned", {"agent_id": "x", "agent_name": "Mai", "by": "reply"}),
        ]:
            timeline.record(
                session,
                customer_id=conversation.customer_id,
                conversation_id=conversation_id,
                kind=kind,
                actor_type="system",
                data=data,
            )
    await wait_thread(env, thread_ts, "snooze over")
    texts = thread_texts(env, thread_ts)
    assert ":arrow_right: assigned to Mai (round-robin)" in texts
    assert ":leftwards_arrow_with_hook: back in the queue: no reply from Mai in 10 min" in texts
    escalation = "<!subteam^S0CARE> :rotating_light: first response SLA breached — waiting 16 min"
    assert escalation in texts
    assert any(t.startswith(":zzz: snoozed until 09:00") for t in texts)  # Asia/Ho_Chi_Minh
    assert ":alarm_clock: snooze over: the customer wrote" in texts
    assert sum("assigned to" in t for t in texts) == 1


async def test_the_snooze_menu_and_unsnooze_button(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, thread_ts = await hand_off(env, fake_telegram)
    chosen = await env.select(cards.SNOOZE, f"{conversation_id}|30m", "U0MAI0001")
    assert chosen.status_code == 200
    [update] = await env.slack.wait_for("chat.update", 1)
    assert ":zzz: snoozed until" in json.dumps(update["blocks"])
    acts = [b for b in update["blocks"] if b["type"] == "actions"]
    ids = [element["action_id"] for block in acts for element in block["elements"]]
    assert cards.UNSNOOZE in ids
    await wait_thread(env, thread_ts, "snoozed until")
    async with env.app.runtime.db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.snoozed_until is not None

    assert (await env.click(cards.UNSNOOZE, conversation_id, "U0MAI0001")).status_code == 200
    updates = await env.slack.wait_for("chat.update", 2)
    assert "snoozed until" not in json.dumps(updates[-1]["blocks"])
    await wait_thread(env, thread_ts, "snooze over")

    bad = await env.select(cards.SNOOZE, f"{conversation_id}|forever", "U0MAI0001")
    assert bad.status_code == 200
    [told] = await env.slack.wait_for("chat.postEphemeral", 1)
    assert "not a duration" in told["text"]


@pytest.mark.parametrize("mask", [True, False])
async def test_contacts_are_masked_when_configured(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_slack: FakeSlack,  # noqa: F811
    mask: bool,
) -> None:
    async with slack_app(
        database_url, fake_telegram, fake_slack, slack_mask_contacts=mask
    ) as running:
        await running.app.telegram(updates.text_update(710100, "xin chào"))
        await running.app.settle()
        async with running.app.runtime.db.reading() as session:
            customer_id = await session.scalar(select(Conversation.customer_id))
        assert customer_id is not None
        await _add_contacts(running, customer_id)
        conversation_id, _ = await hand_off(running, fake_telegram)
        [card] = running.slack.posts()
        shown = json.dumps(card["blocks"])
        if mask:
            assert "+8491****678" in shown and "l***@example.com" in shown
            assert "+84912345678" not in shown and "lan@example.com" not in shown
        else:
            assert "+84912345678" in shown and "lan@example.com" in shown
        assert conversation_id


async def _add_contacts(running: Slacked, customer_id: str) -> None:
    async with running.app.runtime.db.transaction() as session:
        for kind, value in (("phone", "+84912345678"), ("email", "lan@example.com")):
            session.add(ContactPoint(customer_id=customer_id, kind=kind, value=value))


async def test_routes_pick_the_channel_per_conversation(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_slack: FakeSlack,  # noqa: F811
) -> None:
    routes = "zalo=C0ZALO, telegram=C0TELE, skill:vip=C0VIP"
    async with slack_app(database_url, fake_telegram, fake_slack, slack_routes=routes) as running:
        conversation_id, thread_ts = await hand_off(running, fake_telegram, channel="C0TELE")
        reply = reply_event(thread_ts, "Chào chị", channel="C0TELE")
        assert (await running.event(reply, event_id="Ev0ROUTE01")).status_code == 200
        sent = await fake_telegram.wait_for_sent(2)
        assert sent[-1]["text"] == "Chào chị"
        wrong = reply_event(thread_ts, "sai kênh", channel="C0INBOX")
        assert (await running.event(wrong, event_id="Ev0ROUTE02")).status_code == 200
        await asyncio.sleep(0.4)
        await running.app.settle()
        assert len(fake_telegram.sent()) == 2
        assert conversation_id
