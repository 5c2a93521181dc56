"""Two workers tick the handoff clock at the same moment: each waiting conversation is assigned
once, no agent goes over capacity, and each SLA breach is recorded once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_core import customers, timeline
from crm_core.auth import create_agent
from crm_core.conversations import open_or_continue
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.models import Conversation, TimelineEvent
from handoff.scheduler import HandoffPolicy, HandoffScheduler

WAITING = 24
AGENTS = 3
CAPACITY = 5  # 15 places for 24 conversations: the last places are contended


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two Database objects on one database: what two worker processes have."""
    first, second = Database(database_url), Database(database_url)
    yield first, second
    await first.dispose()
    await second.dispose()


async def _waiting(db: Database, count: int) -> list[str]:
    """Conversations handed from the bot to the human queue (the event the SLA clock reads)."""
    ids = []
    for n in range(count):
        async with db.transaction() as session:
            resolved = await customers.resolve_identity(
                session, channel="telegram", external_id=f"88000{n:03d}"
            )
            conversation, _ = await open_or_continue(
                session, customer_id=resolved.customer.id, identity=resolved.identity
            )
            conversation.status = "waiting_agent"
            timeline.record(
                session,
                customer_id=conversation.customer_id,
                conversation_id=conversation.id,
                kind="status_changed",
                actor_type="system",
                data={"from": "bot", "to": "waiting_agent", "reason": "intent:request_human"},
            )
            ids.append(conversation.id)
    return ids


async def _agents(db: Database, count: int) -> list[str]:
    ids = []
    async with db.transaction() as session:
        for n in range(count):
            agent = await create_agent(
                session,
                email=f"agent{n}@example.com",
                role=Role.AGENT,
                password="long-enough-1",
                name=f"agent{n}",
            )
            agent.available = True
            ids.append(agent.id)
    return ids


async def _events(db: Database, kind: str) -> Counter[str]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(TimelineEvent.conversation_id).where(TimelineEvent.kind == kind)
        )
        return Counter(rows.all())


async def test_two_ticks_assign_each_conversation_once_within_capacity(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    waiting = await _waiting(first, WAITING)
    agents = await _agents(first, AGENTS)
    policy = HandoffPolicy(
        requeue_after=None, first_response=None, auto_assign=True, capacity=CAPACITY
    )
    ticks = await asyncio.gather(
        HandoffScheduler(first, policy).run_once(), HandoffScheduler(second, policy).run_once()
    )
    assigned = [cid for tick in ticks for cid in tick.assigned]
    assert len(assigned) == AGENTS * CAPACITY
    assert len(set(assigned)) == len(assigned)  # no conversation given out twice
    events = await _events(first, "assigned")
    assert sorted(events) == sorted(assigned) and set(events.values()) == {1}
    async with first.reading() as session:
        rows = (
            await session.execute(select(Conversation.status, Conversation.assigned_agent_id))
        ).all()
    load = Counter(agent for status, agent in rows if status == "agent")
    assert load == Counter(dict.fromkeys(agents, CAPACITY))  # full, nobody over
    assert Counter(status for status, _ in rows) == Counter(
        {"agent": AGENTS * CAPACITY, "waiting_agent": WAITING - AGENTS * CAPACITY}
    )
    assert set(assigned) < set(waiting)


async def test_two_ticks_record_each_sla_breach_once(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    waiting = await _waiting(first, WAITING)
    policy = HandoffPolicy(
        requeue_after=None, first_response=timedelta(minutes=15), auto_assign=False
    )
    overdue = datetime.now(UTC) + timedelta(minutes=16)
    ticks = await asyncio.gather(
        HandoffScheduler(first, policy).run_once(overdue),
        HandoffScheduler(second, policy).run_once(overdue),
    )
    breached = [cid for tick in ticks for cid in tick.breached]
    assert sorted(breached) == sorted(waiting)  # each reported by exactly one of the two
    assert await _events(first, "sla_breached") == Counter(dict.fromkeys(waiting, 1))
