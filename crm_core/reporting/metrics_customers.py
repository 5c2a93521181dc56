"""Customer-level metrics: repeat contact and 90-day retention, from conversation rows.

Both "came back" figures look past the range (a customer who writes in the range and again a
few days after it did come back). An anchor whose window has not closed yet by `now` cannot be
judged: it is counted as pending and left out of the rate, so a recent range is not read as
"nobody came back".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_core.models import Conversation
from crm_core.reporting.metrics_stats import ratio

REPEAT_WINDOW = timedelta(days=7)
RETENTION_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class CameBack:
    """How many anchors were judged, how many of those came back, how many are still open."""

    judged: int = 0
    returned: int = 0
    pending: int = 0

    @property
    def rate(self) -> float | None:
        return ratio(self.returned, self.judged)


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


async def repeat_within_7_days(
    session: AsyncSession, in_range: list[Any], *, now: datetime
) -> CameBack:
    """Conversations in range after which the same customer opened another one (any channel)
    within 7 days; conversations younger than 7 days at `now` are pending."""
    anchors = select(
        Conversation.customer_id.label("customer_id"), Conversation.created_at.label("at")
    ).where(*in_range)
    return await _came_back(session, anchors.subquery(), REPEAT_WINDOW, now)


async def retention_90d(session: AsyncSession, in_range: list[Any], *, now: datetime) -> CameBack:
    """Customers with a conversation in range who opened another one (any channel) within 90
    days after their first conversation in range; those whose 90 days are not over are pending."""
    anchors = (
        select(
            Conversation.customer_id.label("customer_id"),
            func.min(Conversation.created_at).label("at"),
        )
        .where(*in_range)
        .group_by(Conversation.customer_id)
    )
    return await _came_back(session, anchors.subquery(), RETENTION_WINDOW, now)


async def _came_back(
    session: AsyncSession, anchors: Any, window: timedelta, now: datetime
) -> CameBack:
    judged = returned = pending = 0
    for anchor_at, next_at in await session.execute(_with_next(anchors)):
        if anchor_at + window > now:
            pending += 1
            continue
        judged += 1
        if next_at is not None and next_at - anchor_at <= window:
            returned += 1
    return CameBack(judged=judged, returned=returned, pending=pending)


def _with_next(anchors: Any) -> Select[Any]:
    """(anchor instant, the customer's next conversation after it or None)."""
    later = aliased(Conversation)
    next_at = (
        select(func.min(later.created_at))
        .where(later.customer_id == anchors.c.customer_id, later.created_at > anchors.c.at)
        .scalar_subquery()
    )
    return select(anchors.c.at, next_at.label("next_at"))
