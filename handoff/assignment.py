"""Who gets a waiting conversation: round-robin among available agents, by language and skill.

An agent who lists languages only gets conversations in those languages; skills are a
preference (a complaint goes to someone with `complaints` when one is free, else to anyone).
Round-robin means the available agent who was assigned longest ago goes first. An agent a
conversation was taken back from (no reply in time) is not chosen for it again automatically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.db import Database
from crm_core.enums import ConversationStatus
from crm_core.models import Agent, Conversation
from handoff.service import HandoffError

PASSED_OVER = "passed_over"  # bot_state key: agents this conversation was taken back from
WAITING = ConversationStatus.WAITING_AGENT.value
WITH_AGENT = ConversationStatus.AGENT.value


@dataclass(frozen=True)
class Assignment:
    conversation_id: str
    agent_id: str
    agent_name: str


def parse_skill_map(text: str) -> dict[str, str]:
    """`HANDOFF_SKILL_MAP`: "reason=skill, reason=skill" (reasons: complaint, vip, ...)."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        reason, sep, skill = (piece.strip() for piece in item.partition("="))
        if not sep or not reason or not skill:
            raise ValueError(
                f"OMNICRM_HANDOFF_SKILL_MAP: {item!r} is not reason=skill "
                "(e.g. 'complaint=complaints, vip=vip')"
            )
        mapping[reason] = skill
    return mapping


async def set_availability(db: Database, agent_id: str, *, available: bool) -> Agent:
    """An agent goes on or off duty; only available agents receive new conversations."""
    async with db.transaction() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise HandoffError(404, "not_found", "no such agent")
        if agent.available != available:
            agent.available = available
        return agent


def speaks(agent: Agent, language: str | None) -> bool:
    """No languages listed means any; a conversation of unknown language fits everyone."""
    return not agent.languages or language is None or language in agent.languages


def choose_agent(
    agents: Sequence[Agent],
    *,
    language: str | None,
    skill: str | None,
    load: Counter[str],
    capacity: int,
    exclude: Sequence[str] = (),
) -> Agent | None:
    """The next agent for one conversation, or None when nobody suitable is free."""
    eligible = [
        agent
        for agent in agents
        if agent.id not in exclude
        and speaks(agent, language)
        and (capacity == 0 or load[agent.id] < capacity)
    ]
    if skill:
        skilled = [agent for agent in eligible if skill in agent.skills]
        eligible = skilled or eligible
    if not eligible:
        return None
    return min(eligible, key=_round_robin_key)


def _round_robin_key(agent: Agent) -> tuple[int, datetime | str, str]:
    if agent.last_assigned_at is None:
        return (0, "", agent.id)
    return (1, agent.last_assigned_at, agent.id)


async def assign_waiting(db: Database, *, now: datetime, capacity: int) -> list[Assignment]:
    """Give every waiting, unsnoozed conversation (oldest first) to the next suitable agent."""
    async with db.reading() as session:
        agents = await _on_duty(session)
        if not agents:
            return []
        waiting = (
            await session.scalars(
                select(Conversation)
                .where(Conversation.status == WAITING, awake(now))
                .order_by(Conversation.updated_at, Conversation.id)
            )
        ).all()
        load = await _open_load(session)
    done: list[Assignment] = []
    for conversation in waiting:
        agent = choose_agent(
            agents,
            language=conversation.language,
            skill=conversation.skill,
            load=load,
            capacity=capacity,
            exclude=list(conversation.bot_state.get(PASSED_OVER) or ()),
        )
        if agent is None:
            continue
        if await _assign(db, conversation.id, agent, now=now, capacity=capacity):
            load[agent.id] += 1
            agent.last_assigned_at = now
            done.append(Assignment(conversation.id, agent.id, agent.name))
        else:
            # Another worker won it, or the agent filled up or went off duty meanwhile: read
            # who is on duty and their load again for the rest of the pass.
            async with db.reading() as session:
                agents = await _on_duty(session)
                load = await _open_load(session)
    return done


async def _on_duty(session: AsyncSession) -> list[Agent]:
    stmt = select(Agent).where(Agent.active.is_(True), Agent.available.is_(True))
    return list((await session.scalars(stmt)).all())


def awake(now: datetime) -> ColumnElement[bool]:
    """Not snoozed, or the snooze is over."""
    return or_(Conversation.snoozed_until.is_(None), Conversation.snoozed_until <= now)


async def _open_load(session: AsyncSession) -> Counter[str]:
    rows = await session.execute(
        select(Conversation.assigned_agent_id, func.count())
        .where(Conversation.status == WITH_AGENT, Conversation.assigned_agent_id.is_not(None))
        .group_by(Conversation.assigned_agent_id)
    )
    return Counter({agent_id: count for agent_id, count in rows})


class _NoRoom(Exception):
    """The agent filled up or went off duty meanwhile: undo the assignment."""


async def _assign(
    db: Database, conversation_id: str, agent: Agent, *, now: datetime, capacity: int
) -> bool:
    """Take the conversation only if it still waits (another worker or a claim may have won),
    and only while the agent is on duty and under `capacity`, counted under a lock on the
    agent's row, so two workers assigning at once cannot both fill the agent's last place."""
    try:
        async with db.transaction() as session:
            won = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.status == WAITING)
                .values(status=WITH_AGENT, assigned_agent_id=agent.id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                return False
            if not await _has_room(session, agent.id, capacity):
                raise _NoRoom
            await session.execute(
                update(Agent).where(Agent.id == agent.id).values(last_assigned_at=now)
            )
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            for kind, data in (
                ("status_changed", {"from": WAITING, "to": WITH_AGENT, "reason": "round_robin"}),
                (
                    "assigned",
                    {"agent_id": agent.id, "agent_name": agent.name, "by": "round_robin"},
                ),
            ):
                timeline.record(
                    session,
                    customer_id=conversation.customer_id,
                    conversation_id=conversation_id,
                    kind=kind,
                    actor_type="system",
                    data=data,
                )
            return True
    except _NoRoom:
        return False


async def _has_room(session: AsyncSession, agent_id: str, capacity: int) -> bool:
    """Whether the agent may hold what they now hold (the new conversation included).

    On PostgreSQL the agent's row is locked first (FOR NO KEY UPDATE, released at commit): a
    second worker's count then waits and sees this assignment. On SQLite the transaction
    already holds the only write lock.
    """
    stmt = select(Agent.active, Agent.available).where(Agent.id == agent_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(key_share=True)
    row = (await session.execute(stmt)).first()
    if row is None or not row.active or not row.available:
        return False
    if capacity == 0:
        return True
    held = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.status == WITH_AGENT, Conversation.assigned_agent_id == agent_id)
    )
    return int(held or 0) <= capacity
