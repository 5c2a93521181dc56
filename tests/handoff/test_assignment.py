"""Round-robin with language and skill routing, requeue, SLA breaches and snoozes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import Agent, Conversation, Message, TimelineEvent
from handoff import service
from handoff.assignment import choose_agent, parse_skill_map
from handoff.queue import load_queue
from handoff.scheduler import HandoffPolicy, HandoffScheduler
from handoff.times import conversation_times
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram

POLICY = HandoffPolicy(
    requeue_after=timedelta(minutes=10),
    first_response=timedelta(minutes=15),
    auto_assign=True,
)


@pytest.fixture
async def harness(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    """The app with its own handoff clock idle, so each test drives the scheduler itself."""
    settings = make_settings(
        database_url, fake_telegram.url, handoff_auto_assign=False, handoff_tick_seconds=3600
    )
    async with running_app(settings) as running:
        yield running


def _agent(agent_id: str, *, languages: Any = (), skills: Any = (), last: int | None = None):
    stamp = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=last) if last else None
    return Agent(
        id=agent_id,
        email=f"{agent_id}@example.com",
        name=agent_id,
        role="agent",
        languages=list(languages),
        skills=list(skills),
        last_assigned_at=stamp,
    )


def test_round_robin_picks_who_waited_longest_since_an_assignment() -> None:
    agents = [_agent("a", last=5), _agent("b", last=1), _agent("c", last=3)]
    chosen = choose_agent(agents, language="vi", skill=None, load=Counter(), capacity=0)
    assert chosen is not None and chosen.id == "b"
    never = [*agents, _agent("d")]
    chosen = choose_agent(never, language="vi", skill=None, load=Counter(), capacity=0)
    assert chosen is not None and chosen.id == "d"  # never assigned goes first


def test_language_is_required_and_skill_preferred() -> None:
    english_only = _agent("en", languages=["en"], last=1)
    care = _agent("care", languages=["vi"], skills=["complaints"], last=9)
    anyone = _agent("any", last=2)
    agents = [english_only, care, anyone]
    chosen = choose_agent(agents, language="vi", skill="complaints", load=Counter(), capacity=0)
    assert chosen is care
    chosen = choose_agent(agents, language="vi", skill=None, load=Counter(), capacity=0)
    assert chosen is anyone  # english_only was assigned longest ago but speaks no Vietnamese
    busy = Counter({"care": 2})
    chosen = choose_agent(agents, language="vi", skill="complaints", load=busy, capacity=2)
    assert chosen is anyone  # the specialist is full: someone else rather than nobody
    chosen = choose_agent([english_only], language="vi", skill=None, load=Counter(), capacity=0)
    assert chosen is None


def test_passed_over_agents_are_not_chosen_again() -> None:
    agents = [_agent("a", last=1), _agent("b", last=2)]
    chosen = choose_agent(
        agents, language=None, skill=None, load=Counter(), capacity=0, exclude=["a"]
    )
    assert chosen is not None and chosen.id == "b"


def test_skill_map_syntax() -> None:
    assert parse_skill_map("complaint=complaints, vip = vip,") == {
        "complaint": "complaints",
        "vip": "vip",
    }
    with pytest.raises(ValueError, match="HANDOFF_SKILL_MAP"):
        parse_skill_map("complaint")


async def _staff(harness: Harness, email: str, **routing: Any) -> str:
    async with harness.runtime.db.transaction() as session:
        agent = await create_agent(
            session, email=email, role=Role.AGENT, password="long-enough-1", name=email[:3]
        )
        for name, value in routing.items():
            setattr(agent, name, value)
        return agent.id


async def _handed_off(harness: Harness, fake: FakeTelegram, user_id: int, text: str) -> str:
    before = len(fake.sent())
    await harness.telegram(updates.text_update(user_id * 10, text, user_id=user_id))
    await fake.wait_for_sent(before + 1)
    await harness.settle()
    async with harness.runtime.db.reading() as session:
        conversation = await session.scalar(
            select(Conversation)
            .where(Conversation.status == "waiting_agent")
            .order_by(Conversation.created_at.desc())
        )
    assert conversation is not None
    return conversation.id


async def _kinds(harness: Harness, conversation_id: str) -> list[str]:
    async with harness.runtime.db.reading() as session:
        events = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.conversation_id == conversation_id)
            .order_by(TimelineEvent.created_at, TimelineEvent.id)
        )
        return [event.kind for event in events]


async def _conversation(harness: Harness, conversation_id: str) -> Conversation:
    async with harness.runtime.db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation


async def test_complaints_go_to_the_specialist_round_robin_otherwise(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    care = await _staff(
        harness, "care@example.com", available=True, skills=["complaints"], languages=["vi"]
    )
    english = await _staff(harness, "eng@example.com", available=True, languages=["en"])
    await _staff(harness, "off@example.com", available=False)
    scheduler = HandoffScheduler(harness.runtime.db, POLICY)

    angry = await _handed_off(harness, fake_telegram, 7101, "dịch vụ quá tệ, tôi muốn khiếu nại")
    assert (await _conversation(harness, angry)).skill == "complaints"
    tick = await scheduler.run_once()
    assert tick.assigned == [angry]
    owned = await _conversation(harness, angry)
    assert owned.status == "agent" and owned.assigned_agent_id == care
    assert (await _kinds(harness, angry))[-1] == "assigned"

    hello = await _handed_off(harness, fake_telegram, 7102, "hi, can I talk to a human please")
    await scheduler.run_once()
    assert (await _conversation(harness, hello)).assigned_agent_id in (care, english)
    second = await _handed_off(harness, fake_telegram, 7103, "let me talk to a real person")
    await scheduler.run_once()
    owners = {
        (await _conversation(harness, hello)).assigned_agent_id,
        (await _conversation(harness, second)).assigned_agent_id,
    }
    assert english in owners  # round-robin spread the English speakers' work


async def test_a_silent_claim_is_requeued_and_sla_breach_is_flagged_once(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    mai = await _staff(harness, "mai@example.com", available=True)
    conversation_id = await _handed_off(harness, fake_telegram, 7201, "cho mình gặp nhân viên")
    scheduler = HandoffScheduler(harness.runtime.db, POLICY)
    assert (await scheduler.run_once()).assigned == [conversation_id]

    later = datetime.now(UTC) + timedelta(minutes=11)
    tick = await scheduler.run_once(later)
    assert tick.requeued == [conversation_id]
    back = await _conversation(harness, conversation_id)
    assert back.status == "waiting_agent" and back.assigned_agent_id is None
    assert back.bot_state["passed_over"] == [mai]
    assert tick.assigned == []  # Mai did not answer it: not given to her again automatically

    overdue = datetime.now(UTC) + timedelta(minutes=16)
    assert (await scheduler.run_once(overdue)).breached == [conversation_id]
    assert (await scheduler.run_once(overdue + timedelta(minutes=1))).breached == []
    [item] = await load_queue(harness.runtime.db, now=overdue)
    assert item.breached and item.reason == "intent:request_human"
    assert (await _kinds(harness, conversation_id)).count("sla_breached") == 1


async def test_an_answered_conversation_is_neither_requeued_nor_breached(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    mai = await _staff(harness, "mai@example.com", available=True)
    conversation_id = await _handed_off(harness, fake_telegram, 7301, "cho mình gặp nhân viên")
    scheduler = HandoffScheduler(harness.runtime.db, POLICY)
    await scheduler.run_once()
    actor = service.Actor(type="agent", id=mai, name="Mai", agent_id=mai)
    await service.reply(harness.runtime.db, conversation_id, actor, text="Em Mai đây ạ")
    tick = await scheduler.run_once(datetime.now(UTC) + timedelta(hours=1))
    assert tick.requeued == [] and tick.breached == []
    await harness.settle()
    await service.resolve(harness.runtime.db, conversation_id, actor)
    async with harness.runtime.db.reading() as session:
        times = await conversation_times(session, conversation_id)
        resolved = await session.scalar(
            select(TimelineEvent)
            .where(
                TimelineEvent.conversation_id == conversation_id,
                TimelineEvent.kind == "status_changed",
            )
            .order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc())
        )
    assert times.first_response_s is not None and 0 <= times.first_response_s < 60
    assert times.resolution_s is not None and times.resolution_s >= times.first_response_s
    assert resolved is not None and resolved.data["to"] == "resolved"
    assert resolved.data["first_response_s"] == pytest.approx(times.first_response_s)


async def test_snooze_pauses_the_sla_and_a_customer_message_ends_it(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    conversation_id = await _handed_off(harness, fake_telegram, 7401, "cho mình gặp nhân viên")
    scheduler = HandoffScheduler(harness.runtime.db, POLICY)
    actor = service.Actor(type="api_key", id="k1", name="ops")
    until = datetime.now(UTC) + timedelta(hours=1)
    await service.snooze(harness.runtime.db, conversation_id, actor, until=until)
    tick = await scheduler.run_once(datetime.now(UTC) + timedelta(minutes=30))
    assert tick.breached == []  # snoozed: no escalation

    await harness.telegram(updates.text_update(74020, "alo còn ai không", user_id=7401))
    await harness.settle()
    woken = await _conversation(harness, conversation_id)
    assert woken.snoozed_until is None
    assert (await _kinds(harness, conversation_id))[-1] != "snoozed"
    assert "unsnoozed" in await _kinds(harness, conversation_id)

    with pytest.raises(service.HandoffError) as past:
        await service.snooze(
            harness.runtime.db, conversation_id, actor, until=datetime.now(UTC) - timedelta(1)
        )
    assert past.value.status == 422


async def test_a_snooze_ends_by_itself(harness: Harness, fake_telegram: FakeTelegram) -> None:
    conversation_id = await _handed_off(harness, fake_telegram, 7501, "cho mình gặp nhân viên")
    actor = service.Actor(type="api_key", id="k1", name="ops")
    until = datetime.now(UTC) + timedelta(minutes=5)
    await service.snooze(harness.runtime.db, conversation_id, actor, until=until)
    scheduler = HandoffScheduler(harness.runtime.db, POLICY)
    assert (await scheduler.run_once(until - timedelta(seconds=1))).woken == []
    assert (await scheduler.run_once(until + timedelta(seconds=1))).woken == [conversation_id]
    assert (await _conversation(harness, conversation_id)).snoozed_until is None


async def test_rest_queue_agents_and_snooze(harness: Harness, fake_telegram: FakeTelegram) -> None:
    mai = await _staff(harness, "mai@example.com")
    conversation_id = await _handed_off(harness, fake_telegram, 7601, "cho mình gặp nhân viên")
    queue = await harness.get("/api/v1/queue", role=Role.AGENT)
    assert queue.status_code == 200
    [item] = queue.json()["items"]
    assert item["conversation_id"] == conversation_id and item["breached"] is False

    headers = {"Authorization": f"Bearer {await harness.key(Role.SUPERVISOR)}"}
    changed = await harness.client.patch(
        f"/api/v1/agents/{mai}",
        json={"available": True, "languages": ["VI", "en"], "skills": ["complaints"]},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["languages"] == ["en", "vi"] and changed.json()["available"] is True
    refused = await harness.client.patch(
        f"/api/v1/agents/{mai}", json={"role": "admin"}, headers=headers
    )
    assert refused.status_code == 422
    agent_headers = {"Authorization": f"Bearer {await harness.key(Role.AGENT)}"}
    forbidden = await harness.client.patch(
        f"/api/v1/agents/{mai}", json={"available": False}, headers=agent_headers
    )
    assert forbidden.status_code == 403

    path = f"/api/v1/conversations/{conversation_id}/snooze"
    both = await harness.client.post(
        path, json={"minutes": 5, "until": "2030-01-01T00:00:00Z"}, headers=agent_headers
    )
    assert both.status_code == 422
    snoozed = await harness.client.post(path, json={"minutes": 30}, headers=agent_headers)
    assert snoozed.status_code == 200 and snoozed.json()["snoozed_until"]
    naive = await harness.client.post(
        path, json={"until": "2030-01-01T00:00:00"}, headers=agent_headers
    )
    assert naive.status_code == 422
    awake = await harness.client.post(
        f"/api/v1/conversations/{conversation_id}/unsnooze", headers=agent_headers
    )
    assert awake.status_code == 200 and awake.json()["snoozed_until"] is None
    async with harness.runtime.db.reading() as session:
        outbound = await session.scalar(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.author_type == "agent"
            )
        )
    assert outbound is None  # snoozing is bookkeeping: nothing went to the customer


async def test_the_running_app_assigns_by_itself(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = make_settings(database_url, fake_telegram.url, handoff_tick_seconds=0.1)
    async with running_app(settings) as app:
        mai = await _staff(app, "mai@example.com", available=True)
        conversation_id = await _handed_off_or_assigned(app, fake_telegram, 7701)
        for _ in range(100):
            if (await _conversation(app, conversation_id)).assigned_agent_id == mai:
                break
            await asyncio.sleep(0.05)
        assert (await _conversation(app, conversation_id)).assigned_agent_id == mai
        metrics = (await app.client.get("/metrics")).text
        assert 'omnicrm_handoff_actions_total{action="assigned"} 1.0' in metrics


async def _handed_off_or_assigned(harness: Harness, fake: FakeTelegram, user_id: int) -> str:
    await harness.telegram(updates.text_update(user_id * 10, "gặp nhân viên", user_id=user_id))
    await fake.wait_for_sent(1)
    await harness.settle()
    async with harness.runtime.db.reading() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None
    return conversation.id
