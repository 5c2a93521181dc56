"""Counts of what happened around conversations: volume per day, complaints, bookings."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Appointment, Conversation, Ticket


async def volume(
    session: AsyncSession, in_range: list[Any], zone: ZoneInfo
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Conversations per channel, and per local day and channel.

    Local days depend on the time zone's rules (DST), which SQL dialects express differently,
    so only two narrow columns of the conversations in range are read and bucketed here.
    """
    per_day: Counter[tuple[str, str]] = Counter()
    rows = await session.execute(
        select(Conversation.channel, Conversation.created_at).where(*in_range)
    )
    for channel, created_at in rows:
        per_day[(created_at.astimezone(zone).date().isoformat(), channel)] += 1
    by_channel: Counter[str] = Counter()
    for (_, channel), count in per_day.items():
        by_channel[channel] += count
    days = [
        {"date": day, "channel": channel, "count": count}
        for (day, channel), count in sorted(per_day.items())
    ]
    return dict(sorted(by_channel.items())), days


async def complaints(
    session: AsyncSession, *, start: datetime, end: datetime, channel: str | None
) -> dict[str, dict[str, int]]:
    """Tickets created in range by category and by severity; with `channel`, tickets opened
    from a conversation on that channel."""
    stmt = select(Ticket.category, Ticket.severity, func.count()).where(
        Ticket.created_at >= start, Ticket.created_at < end
    )
    if channel is not None:
        stmt = stmt.join(Conversation, Conversation.id == Ticket.conversation_id).where(
            Conversation.channel == channel
        )
    by_category: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    for category, severity, count in await session.execute(
        stmt.group_by(Ticket.category, Ticket.severity)
    ):
        by_category[category] += count
        by_severity[severity] += count
    return {
        "by_category": dict(sorted(by_category.items())),
        "by_severity": dict(sorted(by_severity.items())),
    }


async def bookings(
    session: AsyncSession, *, start: datetime, end: datetime, channel: str | None
) -> tuple[int, int]:
    """(appointments created in range, how many of them are marked no_show)."""
    stmt = select(
        func.count(), func.sum(case((Appointment.status == "no_show", 1), else_=0))
    ).where(Appointment.created_at >= start, Appointment.created_at < end)
    if channel is not None:
        stmt = stmt.where(Appointment.channel == channel)
    total, no_shows = (await session.execute(stmt)).one()
    return int(total or 0), int(no_shows or 0)
