"""Who owns a conversation, and the human actions on it; every reply path calls these.

One owner at a time: the bot, the waiting queue, or one agent. A human reply from any path
(API, console, later Slack) takes ownership, and the bot stays silent while a human owns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import csat, timeline
from crm_core.conversations import add_outbound, move
from crm_core.db import Database
from crm_core.enums import ConversationStatus
from crm_core.models import Agent, Conversation, Message
from crm_core.types import utcnow
from handoff.times import conversation_times

NOTE_PREFIX = "note:"
OPEN = (ConversationStatus.BOT.value, ConversationStatus.WAITING_AGENT.value)
HUMAN = (ConversationStatus.WAITING_AGENT.value, ConversationStatus.AGENT.value)
MAX_SNOOZE = timedelta(days=30)


@dataclass(frozen=True)
class Actor:
    """Who acts: a console agent, an API key, or the system; `agent_id` when a person."""

    type: str
    id: str | None
    name: str | None = None
    agent_id: str | None = None


class HandoffError(Exception):
    """The action cannot be done; `status` is the HTTP answer (404, 409, 422)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ReplyResult:
    """An agent's reply: the queued message, or the internal note that reached no customer."""

    message: Message | None
    note: bool


async def _load(session: AsyncSession, conversation_id: str) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise HandoffError(404, "not_found", "no such conversation")
    return conversation


async def agent_for(db: Database, agent_id: str | None) -> Agent | None:
    """The console user an API call acts for (404 when the id is unknown)."""
    if agent_id is None:
        return None
    async with db.reading() as session:
        agent = await session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise HandoffError(404, "not_found", "no such agent")
    return agent


async def request_handoff(
    db: Database, conversation_id: str, actor: Actor, *, reason: str
) -> Conversation:
    """Put the conversation in the agents' queue (idempotent while it waits)."""
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        if conversation.status == ConversationStatus.WAITING_AGENT.value:
            return conversation
        if conversation.status != ConversationStatus.BOT.value:
            raise HandoffError(409, "conflict", f"the conversation is {conversation.status}")
        move(
            session,
            conversation,
            ConversationStatus.WAITING_AGENT,
            actor_type=actor.type,
            actor_id=actor.id,
            reason=reason,
        )
        return conversation


async def claim(db: Database, conversation_id: str, actor: Actor) -> Conversation:
    """Take the conversation; of two simultaneous claims exactly one wins (conditional UPDATE)."""
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        before = conversation.status
        won = await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status.in_(OPEN))
            .values(status=ConversationStatus.AGENT.value, assigned_agent_id=actor.agent_id)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            await session.refresh(conversation)
            raise HandoffError(409, "already_claimed", _owner_text(conversation))
        await session.refresh(conversation)
        _record(session, conversation, "claimed", actor, {"from": before, "to": "agent"})
        return conversation


async def reply(
    db: Database,
    conversation_id: str,
    actor: Actor,
    *,
    text: str,
    attachments: list[dict[str, Any]] | None = None,
    source: str | None = None,
) -> ReplyResult:
    """Send a human reply (taking ownership), or keep a `note:` internal to the team.

    `attachments` are stored files (crm_core.files); `source` names the path the reply came
    from ("slack", "console", "api") so that path does not mirror it back to itself.
    """
    body = text.strip()
    if not body and not attachments:
        raise HandoffError(422, "empty_reply", "the reply has no text")
    if body.lower().startswith(NOTE_PREFIX):  # internal, files included: nothing is sent
        await note(db, conversation_id, actor, text=body[len(NOTE_PREFIX) :], source=source)
        return ReplyResult(message=None, note=True)
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        if conversation.status == ConversationStatus.RESOLVED.value:
            raise HandoffError(409, "conflict", "the conversation is resolved")
        _take_ownership(session, conversation, actor)
        if conversation.snoozed_until is not None:
            _wake(session, conversation, actor, reason="agent_reply")
        message = add_outbound(
            session,
            conversation,
            text=body,
            author_type="agent",
            author_id=actor.agent_id or actor.id,
            author_name=actor.name,
            attachments=attachments,
            meta={"source": source} if source else None,
        )
        return ReplyResult(message=message, note=False)


async def note(
    db: Database, conversation_id: str, actor: Actor, *, text: str, source: str | None = None
) -> None:
    """An internal note for the team: on the timeline, never sent to the customer."""
    body = text.strip()
    if not body:
        raise HandoffError(422, "empty_reply", "the note has no text")
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        data = {"text": body, "source": source} if source else {"text": body}
        _record(session, conversation, "note", actor, data)


async def snooze(
    db: Database, conversation_id: str, actor: Actor, *, until: datetime
) -> Conversation:
    """Park a human-owned conversation: no SLA escalation or assignment until `until`.

    A new customer message ends the snooze early (the engine clears it).
    """
    now = utcnow()
    if until.tzinfo is None:
        raise HandoffError(422, "invalid_time", "the snooze time needs a time zone")
    if until <= now:
        raise HandoffError(422, "invalid_time", "the snooze time is in the past")
    if until - now > MAX_SNOOZE:
        raise HandoffError(422, "invalid_time", "a conversation can be snoozed for 30 days")
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        if conversation.status not in HUMAN:
            raise HandoffError(409, "conflict", f"the conversation is {conversation.status}")
        conversation.snoozed_until = until
        conversation.updated_at = now
        _record(session, conversation, "snoozed", actor, {"until": until.isoformat()})
        return conversation


async def unsnooze(db: Database, conversation_id: str, actor: Actor) -> Conversation:
    """Wake a snoozed conversation now (idempotent)."""
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        if conversation.snoozed_until is not None:
            _wake(session, conversation, actor, reason="agent")
        return conversation


async def resolve(db: Database, conversation_id: str, actor: Actor) -> Conversation:
    """Close the conversation, record its times, and ask the customer to rate it (1-5)."""
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        current = ConversationStatus(conversation.status)
        if not current.can_move_to(ConversationStatus.RESOLVED):
            raise HandoffError(409, "illegal_transition", f"cannot resolve from {current}")
        times = await conversation_times(session, conversation_id)
        resolved_at = utcnow()
        extra = {
            "first_response_s": times.first_response_s,
            "resolution_s": (resolved_at - conversation.created_at).total_seconds(),
        }
        _move(session, conversation, ConversationStatus.RESOLVED, actor, extra=extra)
        conversation.snoozed_until = None
        add_outbound(
            session,
            conversation,
            text=csat.survey_text(conversation.language),
            author_type="system",
        )
        conversation.bot_state = {**conversation.bot_state, "csat": csat.PENDING}
        return conversation


async def return_to_bot(db: Database, conversation_id: str, actor: Actor) -> Conversation:
    """Give the conversation back to the bot, with a fresh bot state."""
    async with db.transaction() as session:
        conversation = await _load(session, conversation_id)
        _move(session, conversation, ConversationStatus.BOT, actor)
        conversation.assigned_agent_id = None
        conversation.snoozed_until = None
        conversation.skill = None
        conversation.bot_state = {}
        return conversation


def _wake(session: AsyncSession, conversation: Conversation, actor: Actor, *, reason: str) -> None:
    conversation.snoozed_until = None
    _record(session, conversation, "unsnoozed", actor, {"reason": reason})


def _take_ownership(session: AsyncSession, conversation: Conversation, actor: Actor) -> None:
    if conversation.status != ConversationStatus.AGENT.value:
        _move(session, conversation, ConversationStatus.AGENT, actor)
    if actor.agent_id and conversation.assigned_agent_id != actor.agent_id:
        conversation.assigned_agent_id = actor.agent_id
        data = {"agent_id": actor.agent_id, "agent_name": actor.name, "by": "reply"}
        _record(session, conversation, "assigned", actor, data)


def _move(
    session: AsyncSession,
    conversation: Conversation,
    target: ConversationStatus,
    actor: Actor,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    current = ConversationStatus(conversation.status)
    if not current.can_move_to(target):
        raise HandoffError(409, "illegal_transition", f"cannot go from {current} to {target}")
    move(session, conversation, target, actor_type=actor.type, actor_id=actor.id, extra=extra)
    conversation.updated_at = utcnow()


def _record(
    session: AsyncSession,
    conversation: Conversation,
    kind: str,
    actor: Actor,
    data: dict[str, object],
) -> None:
    timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        kind=kind,
        actor_type=actor.type,
        actor_id=actor.id,
        data={**data, "actor_name": actor.name} if actor.name else data,
    )


def _owner_text(conversation: Conversation) -> str:
    if conversation.status == ConversationStatus.AGENT.value:
        return "another agent has already claimed this conversation"
    return f"the conversation is {conversation.status}"
