"""Which conversations an export covers, read in keyset pages so memory stays flat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Agent, Conversation, Customer


@dataclass(frozen=True)
class ExportQuery:
    """Conversations created in [start, end), optionally of one channel and status."""

    start: datetime
    end: datetime
    channel: str | None = None
    status: str | None = None

    @classmethod
    def local_days(
        cls,
        first: date,
        last: date,
        *,
        timezone: str,
        channel: str | None = None,
        status: str | None = None,
    ) -> ExportQuery:
        """Whole local days `first`..`last` (inclusive) in `timezone`, as a UTC range."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(first, time.min, tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
        return cls(start=start, end=end, channel=channel, status=status)

    def where(self, stmt: Select[Any]) -> Select[Any]:
        """Apply the range and filters to a statement over conversations."""
        created = Conversation.created_at
        stmt = stmt.where(created >= self.start, created < self.end)
        if self.channel:
            stmt = stmt.where(Conversation.channel == self.channel)
        if self.status:
            stmt = stmt.where(Conversation.status == self.status)
        return stmt


Cursor = tuple[datetime, str]


async def count(session: AsyncSession, query: ExportQuery) -> int:
    """How many conversations the export will hold (for the audit log and progress bars)."""
    stmt = query.where(select(func.count()).select_from(Conversation))
    return int(await session.scalar(stmt) or 0)


async def page(
    session: AsyncSession, query: ExportQuery, *, after: Cursor | None, size: int
) -> Sequence[Row[Any]]:
    """One page in (created_at, id) order, with the customer and the assigned agent's name."""
    stmt = query.where(
        select(Conversation, Customer.name, Customer.tags, Agent.name)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
    )
    if after is not None:
        created_at, conversation_id = after
        stmt = stmt.where(
            or_(
                Conversation.created_at > created_at,
                and_(Conversation.created_at == created_at, Conversation.id > conversation_id),
            )
        )
    stmt = stmt.order_by(Conversation.created_at, Conversation.id).limit(size)
    return (await session.execute(stmt)).all()


def cursor_of(conversation: Conversation) -> Cursor:
    return (conversation.created_at, conversation.id)
