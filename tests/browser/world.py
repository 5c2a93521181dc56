"""Writes a conversation as the engine would have left it: customer, identity, messages, and
the timeline events around them (opened, handed off, claimed, ticket, resolved, rated).

Rows go in through the ORM (and `tickets.open_ticket`), so the pages read what a real run
writes, without running the bot for every turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import tickets, timeline
from crm_core.models import Conversation, Customer, Identity, Message, TimelineEvent

CHANNELS = ("telegram", "zalo", "sms", "email", "webchat")
# A turn: (minutes after the start, author type, text, recognised intent, confidence).
Turn = tuple[int, str, str, str | None, float | None]


@dataclass(frozen=True)
class Thread:
    """One conversation to write: who, where, how it went."""

    channel: str
    customer: str
    status: str
    turns: tuple[Turn, ...]
    subject: str | None = None
    csat: int | None = None
    ticket: tuple[str, str] | None = None  # (category, severity) of a ticket it opened

    @property
    def answered_by_agent(self) -> bool:
        return any(turn[1] == "agent" for turn in self.turns)


@dataclass
class People:
    """Customers by name and their identities by channel: a returning customer stays one."""

    customers: dict[str, Customer] = field(default_factory=dict)
    identities: dict[tuple[str, str], Identity] = field(default_factory=dict)

    async def identity(self, session: AsyncSession, name: str, channel: str) -> Identity:
        customer = self.customers.get(name)
        if customer is None:
            customer = Customer(name=name, tags=[channel])
            session.add(customer)
            await session.flush()
            self.customers[name] = customer
        identity = self.identities.get((name, channel))
        if identity is None:
            identity = Identity(
                customer_id=customer.id,
                channel=channel,
                external_id=f"{channel}-{customer.id}",
                display_name=name,
            )
            session.add(identity)
            await session.flush()
            self.identities[(name, channel)] = identity
        return identity


@dataclass(frozen=True)
class Agent:
    """Who answers the threads that reach a person."""

    id: str
    name: str


async def write(
    session: AsyncSession,
    thread: Thread,
    *,
    started: datetime,
    agent: Agent,
    people: People | None = None,
) -> Conversation:
    """One conversation with its messages and timeline events."""
    identity = await (people or People()).identity(session, thread.customer, thread.channel)
    last = started + timedelta(minutes=thread.turns[-1][0])
    conversation = Conversation(
        customer_id=identity.customer_id,
        identity_id=identity.id,
        channel=thread.channel,
        status=thread.status,
        subject=thread.subject,
        csat=thread.csat,
        assigned_agent_id=agent.id if thread.answered_by_agent else None,
        created_at=started,
        updated_at=last,
        last_message_at=last,
        resolved_at=last + timedelta(minutes=2) if thread.status == "resolved" else None,
    )
    session.add(conversation)
    await session.flush()
    for minutes, author, text, intent, confidence in thread.turns:
        message = _message(conversation, author, text, agent=agent)
        message.created_at = started + timedelta(minutes=minutes)
        message.sent_at = None if author == "customer" else message.created_at
        message.intent, message.intent_confidence = intent, confidence
        session.add(message)
    await _events(session, thread, conversation, started=started, agent=agent)
    return conversation


def _message(conversation: Conversation, author: str, text: str, *, agent: Agent) -> Message:
    inbound = author == "customer"
    return Message(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        direction="in" if inbound else "out",
        author_type=author,
        author_id=agent.id if author == "agent" else None,
        author_name=agent.name if author == "agent" else None,
        text=text,
        status="received" if inbound else "delivered",
    )


async def _events(
    session: AsyncSession,
    thread: Thread,
    conversation: Conversation,
    *,
    started: datetime,
    agent: Agent,
) -> None:
    """The timeline a real run leaves: opened, handed off, claimed, ticket, resolved, rated."""
    at = started
    record(session, conversation, "conversation_opened", at, "customer", channel=thread.channel)
    if thread.status in ("waiting_agent", "agent") or thread.answered_by_agent:
        at = started + timedelta(minutes=thread.turns[min(1, len(thread.turns) - 1)][0])
        record(session, conversation, "status_changed", at, "bot", **HANDOFF)
    if thread.answered_by_agent:
        first_answer = min(turn[0] for turn in thread.turns if turn[1] == "agent")
        claimed = started + timedelta(minutes=first_answer - 1)
        record(session, conversation, "status_changed", claimed, "agent", agent.id, **CLAIM)
    if thread.ticket is not None:
        await _ticket(session, thread, conversation, at=started + timedelta(minutes=1))
    if conversation.resolved_at is not None:
        came_from = "agent" if thread.answered_by_agent else "bot"
        resolved = {"from": came_from, "to": "resolved"}
        record(
            session,
            conversation,
            "status_changed",
            conversation.resolved_at,
            came_from,
            **resolved,
        )
    if thread.csat is not None and conversation.resolved_at is not None:
        rated = conversation.resolved_at + timedelta(minutes=3)
        record(session, conversation, "csat_received", rated, "customer", score=thread.csat)


HANDOFF = {"from": "bot", "to": "waiting_agent", "reason": "customer asked for a person"}
CLAIM = {"from": "waiting_agent", "to": "agent"}


async def _ticket(
    session: AsyncSession, thread: Thread, conversation: Conversation, *, at: datetime
) -> None:
    """A real ticket (numbered, with SLA), its timeline event moved to when it happened."""
    assert thread.ticket is not None
    customer = await session.get(Customer, conversation.customer_id)
    assert customer is not None
    category, severity = thread.ticket
    wording = thread.turns[0][2]
    await tickets.open_ticket(
        session,
        customer=customer,
        conversation_id=conversation.id,
        subject=thread.subject or wording,
        description=wording,
        category=category,
        severity=severity,
        now=at,
    )
    await session.flush()
    await session.execute(
        update(TimelineEvent)
        .where(
            TimelineEvent.conversation_id == conversation.id,
            TimelineEvent.kind == "ticket_opened",
        )
        .values(created_at=at)
    )


def record(
    session: AsyncSession,
    conversation: Conversation,
    kind: str,
    at: datetime,
    actor: str,
    actor_id: str | None = None,
    **data: Any,
) -> None:
    """A timeline event dated `at` (the domain's `record` dates it now)."""
    event = timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        kind=kind,
        actor_type=actor,
        actor_id=actor_id,
        data=data,
    )
    event.created_at = at
