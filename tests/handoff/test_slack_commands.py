"""`/omnicrm` slash commands, posted signed to the events URL, answered ephemerally."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import Agent, Conversation
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.handoff.test_slack import (
    Slacked,
    fake_slack,  # noqa: F401  (fixture)
    hand_off,
    slack_app,
    status_of,
)


@pytest.fixture
async def env(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_slack: FakeSlack,  # noqa: F811
) -> AsyncIterator[Slacked]:
    async with slack_app(database_url, fake_telegram, fake_slack) as running:
        async with running.app.runtime.db.transaction() as session:
            mai = await create_agent(
                session,
                email="mai@example.com",
                role=Role.AGENT,
                password="long-enough-1",
                name="Mai",
            )
            hung = await create_agent(
                session,
                email="hung.work@example.com",
                role=Role.AGENT,
                password="long-enough-1",
                name="Hung",
            )
            hung.slack_user_id = "U0HUNG001"  # e-mails differ: the explicit link decides
            assert mai.id
        yield running


async def ask(env: Slacked, text: str, *, user: str = "U0MAI0001") -> str:
    answer = await env.command(text, user=user)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


async def test_help_and_unknown_commands(env: Slacked) -> None:
    for text in ("", "help"):
        said = await ask(env, text)
        assert "queue" in said and "snooze ID" in said and "whoami" in said
    assert "unknown command" in await ask(env, "dance")


async def test_queue_lists_waiting_conversations_with_their_sla(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    assert "nobody is waiting" in await ask(env, "queue")
    conversation_id, _ = await hand_off(env, fake_telegram)
    said = await ask(env, "queue")
    assert f"`{conversation_id[:8]}`" in said
    assert "Lan" in said and "telegram" in said and "waiting" in said
    assert "SLA due" in said and "1 waiting" in said


async def test_claim_by_prefix_then_snooze_and_resolve(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    conversation_id, _ = await hand_off(env, fake_telegram)
    assert "you claimed" in await ask(env, f"claim {conversation_id[:6]}")
    assert await status_of(env, conversation_id) == "agent"
    [update_] = await env.slack.wait_for("chat.update", 1)
    assert "claimed by Mai" in json.dumps(update_["blocks"])

    assert "already claimed" in await ask(env, f"claim {conversation_id}", user="U0HUNG001")
    said = await ask(env, f"snooze {conversation_id[:10]} 2h")
    assert "snoozed" in said
    async with env.app.runtime.db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.snoozed_until is not None
    updates = await env.slack.wait_for("chat.update", 2)
    assert "snoozed until" in json.dumps(updates[-1]["blocks"])
    assert "not a duration" in await ask(env, f"snooze {conversation_id} soon")

    assert "resolved" in await ask(env, f"resolve {conversation_id}")
    assert await status_of(env, conversation_id) == "resolved"
    assert "cannot resolve" in await ask(env, f"resolve {conversation_id}")
    await fake_telegram.wait_for_sent(2)  # the CSAT survey


async def test_bad_ids_are_explained(env: Slacked, fake_telegram: FakeTelegram) -> None:
    conversation_id, _ = await hand_off(env, fake_telegram)
    assert "is not a conversation id" in await ask(env, "claim abc")
    assert "is not a conversation id" in await ask(env, "claim <!here>")
    assert "no conversation starts with" in await ask(env, "claim ffffffffff")
    assert "usage" in await ask(env, "claim")
    # Make two ids share a prefix: the prefix is refused as ambiguous.
    async with env.app.runtime.db.transaction() as session:
        original = await session.get(Conversation, conversation_id)
        assert original is not None
        twin = Conversation(
            id=conversation_id[:6] + "0" * 26,
            customer_id=original.customer_id,
            identity_id=original.identity_id,
            channel="telegram",
            status="bot",
            bot_state={},
        )
        if twin.id == conversation_id:
            twin.id = conversation_id[:6] + "1" * 26
        session.add(twin)
    assert "several conversations" in await ask(env, f"claim {conversation_id[:6]}")
    assert await status_of(env, conversation_id) == "waiting_agent"


async def test_availability_and_whoami(env: Slacked) -> None:
    said = await ask(env, "whoami", user="U0HUNG001")
    assert "Hung" in said and "Slack user id" in said
    assert "Mai" in await ask(env, "whoami") and "e-mail" in await ask(env, "whoami")
    assert "now *available*" in await ask(env, "available", user="U0HUNG001")
    async with env.app.runtime.db.reading() as session:
        hung = await session.scalar(select(Agent).where(Agent.slack_user_id == "U0HUNG001"))
        assert hung is not None and hung.available is True
    assert "now *away*" in await ask(env, "away", user="U0HUNG001")
    async with env.app.runtime.db.reading() as session:
        hung = await session.scalar(select(Agent).where(Agent.slack_user_id == "U0HUNG001"))
        assert hung is not None and hung.available is False
    for text in ("available", "whoami"):
        assert "not linked to any omnicrm agent" in await ask(env, text, user="U0GUEST01")


async def test_a_deactivated_agent_is_not_matched(env: Slacked) -> None:
    async with env.app.runtime.db.transaction() as session:
        await session.execute(
            update(Agent).where(Agent.slack_user_id == "U0HUNG001").values(active=False)
        )
    assert "not linked" in await ask(env, "whoami", user="U0HUNG001")
