"""Customer-level metrics: repeat contact, 90-day retention and lead conversion."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.models import Conversation, Customer, Identity, Purchase
from crm_core.reporting.metrics_stats import ratio

RETENTION_WINDOW = timedelta(days=90)
CONVERTED_STAGES = ("customer", "loyal")


async def repeat_contact_rate(session: AsyncSession, in_range: list[Any]) -> float | None:
    """Customers with ≥ 2 conversations in range / customers with ≥ 1 (None when none)."""
    per_customer = (
        select(Conversation.customer_id, func.count().label("n"))
        .where(*in_range)
        .group_by(Conversation.customer_id)
        .subquery()
    )
    total, repeat = (
        await session.execute(
            select(func.count(), func.sum(case((per_customer.c.n >= 2, 1), else_=0)))
        )
    ).one()
    return ratio(int(repeat or 0), int(total or 0))


async def retention_90d(
    session: AsyncSession, *, end: datetime, channel: str | None
) -> float | None:
    """Share of a cohort that came back within 90 days of its first conversation.

    Cohort: customers whose first conversation ever (any channel; with `channel`, that first
    conversation must be on it) was created in [end − 180 d, end − 90 d). Came back: another
    conversation, on any channel, created after the first and at most 90 days after it. Every
    cohort member's window closes before `end`, so the figure is complete. None: empty cohort.
    """
    first = (
        select(Conversation.customer_id, func.min(Conversation.created_at).label("first_at"))
        .group_by(Conversation.customer_id)
        .subquery()
    )
    later = aliased(Conversation)
    next_at = (
        select(func.min(later.created_at))
        .where(later.customer_id == first.c.customer_id, later.created_at > first.c.first_at)
        .scalar_subquery()
    )
    stmt = select(first.c.first_at, next_at.label("next_at")).where(
        first.c.first_at >= end - 2 * RETENTION_WINDOW, first.c.first_at < end - RETENTION_WINDOW
    )
    if channel is not None:
        opener = aliased(Conversation)
        stmt = stmt.where(
            exists().where(
                opener.customer_id == first.c.customer_id,
                opener.created_at == first.c.first_at,
                opener.channel == channel,
            )
        )
    cohort = returned = 0
    for first_at, came_back in await session.execute(stmt):
        cohort += 1
        if came_back is not None and came_back - first_at <= RETENTION_WINDOW:
            returned += 1
    return ratio(returned, cohort)


async def lead_conversion(
    session: AsyncSession, *, start: datetime, end: datetime, channel: str | None
) -> float | None:
    """Customers created in range who are now customer/loyal or bought something / all
    customers created in range (with `channel`: those with an identity on it)."""
    bought = exists().where(Purchase.customer_id == Customer.id)
    converted = or_(Customer.lifecycle_stage.in_(CONVERTED_STAGES), bought)
    stmt = select(func.count(), func.sum(case((converted, 1), else_=0))).where(
        Customer.created_at >= start, Customer.created_at < end
    )
    if channel is not None:
        stmt = stmt.where(
            exists().where(and_(Identity.customer_id == Customer.id, Identity.channel == channel))
        )
    total, won = (await session.execute(stmt)).one()
    return ratio(int(won or 0), int(total or 0))
