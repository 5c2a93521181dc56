"""The agents' queue: conversations waiting for or owned by a human, with their SLA state.

The first-response target is process configuration (`SLA_FIRST_RESPONSE_MINUTES`), set once
by the composition root through `configure`; callers that only show the queue need not know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from crm_core.db import Database
from crm_core.models import Agent, Conversation, Customer
from crm_core.types import utcnow
from handoff.card import handoff_reasons
from handoff.times import first_agent_replies, handoff_starts

HUMAN = ("waiting_agent", "agent")
_sla: timedelta | None = timedelta(minutes=15)


def configure(*, first_response: timedelta | None) -> None:
    """Set the first-response target (None: no SLA)."""
    global _sla
    _sla = first_response


def first_response_target() -> timedelta | None:
    return _sla


@dataclass(frozen=True)
class QueueItem:
    """One row of the queue; `breached` once the first response is overdue."""

    conversation_id: str
    customer_id: str
    customer_name: str
    channel: str
    language: str | None
    skill: str | None
    reason: str | None
    status: str
    assigned_agent_id: str | None
    assigned_agent_name: str | None
    waiting_since: datetime
    first_response_due: datetime | None
    first_response_at: datetime | None
    breached: bool
    snoozed_until: datetime | None


async def load_queue(db: Database, *, now: datetime | None = None) -> list[QueueItem]:
    """Waiting conversations first (longest wait first), then those agents own."""
    moment = now or utcnow()
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(Conversation, Customer.name, Agent.name)
                .join(Customer, Customer.id == Conversation.customer_id)
                .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
                .where(Conversation.status.in_(HUMAN))
            )
        ).all()
        ids = [conversation.id for conversation, _, _ in rows]
        starts = await handoff_starts(session, ids)
        answered = await first_agent_replies(session, starts)
        reasons = await handoff_reasons(session, ids)
    items = []
    for conversation, customer_name, agent_name in rows:
        since = starts.get(conversation.id, conversation.created_at)
        due = since + _sla if _sla is not None else None
        first = answered.get(conversation.id)
        items.append(
            QueueItem(
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                customer_name=customer_name or "Unknown customer",
                channel=conversation.channel,
                language=conversation.language,
                skill=conversation.skill,
                reason=reasons.get(conversation.id),
                status=conversation.status,
                assigned_agent_id=conversation.assigned_agent_id,
                assigned_agent_name=agent_name,
                waiting_since=since,
                first_response_due=due,
                first_response_at=first,
                breached=due is not None and (first or moment) > due,
                snoozed_until=conversation.snoozed_until,
            )
        )
    items.sort(key=lambda item: (item.status != "waiting_agent", item.waiting_since))
    return items
