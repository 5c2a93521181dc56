"""The numbers supervisors read (GET /api/v1/metrics/summary), computed from rows and timeline
events over conversations created in [start, end) — never from hand-kept counters.

Definitions (also in the README's Metrics section):
- conversations: created in [start, end), optionally on one channel; the population below.
- first response: from the latest bot → human handoff to the first agent message after it,
  for handed-off conversations an agent answered; resolution: created_at → resolved_at.
- median / p90: linear interpolation between closest ranks (metrics_stats.percentile).
- csat: mean of the 1–5 answers on those conversations; csat_responses how many.
- handoff_rate: conversations with any `status_changed` to waiting_agent or agent /
  conversations; bot_containment = 1 − handoff_rate (the rest). None when no conversations.
- Tickets and appointments count by their own created_at in [start, end).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Conversation, TimelineEvent
from crm_core.reporting import metrics_activity as activity
from crm_core.reporting import metrics_customers as customers
from crm_core.reporting.metrics_stats import percentile, ratio
from crm_core.reporting.metrics_times import first_responses_query, seconds, to_human


@dataclass(frozen=True)
class Summary:
    """One flat set of figures; None means "no data", never zero."""

    conversations: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    per_day: list[dict[str, Any]] = field(default_factory=list)
    first_response_median_s: float | None = None
    first_response_p90_s: float | None = None
    resolution_median_s: float | None = None
    resolution_p90_s: float | None = None
    csat: float | None = None
    csat_responses: int = 0
    bot_containment: float | None = None
    handoff_rate: float | None = None
    handoffs: int = 0
    sla_breaches: int = 0
    complaints: dict[str, dict[str, int]] = field(default_factory=dict)
    bookings: int = 0
    no_shows: int = 0
    repeat_contact_rate: float | None = None
    retention_90d: float | None = None
    lead_conversion: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def summary(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    channel: str | None = None,
    timezone: str,
) -> Summary:
    """All the figures for conversations created in [start, end) (aware datetimes)."""
    in_range = [Conversation.created_at >= start, Conversation.created_at < end]
    if channel is not None:
        in_range.append(Conversation.channel == channel)
    scope = select(Conversation.id).where(*in_range)
    by_channel, per_day = await activity.volume(session, in_range, ZoneInfo(timezone))
    total = sum(by_channel.values())
    first, resolution = await _durations(session, scope, in_range)
    csat, csat_responses = await _csat(session, in_range)
    handoffs = await _handed_off(session, in_range)
    handoff_rate = ratio(handoffs, total)
    complaints = await activity.complaints(session, start=start, end=end, channel=channel)
    bookings, no_shows = await activity.bookings(session, start=start, end=end, channel=channel)
    return Summary(
        conversations=total,
        by_channel=by_channel,
        per_day=per_day,
        first_response_median_s=percentile(first, 0.5),
        first_response_p90_s=percentile(first, 0.9),
        resolution_median_s=percentile(resolution, 0.5),
        resolution_p90_s=percentile(resolution, 0.9),
        csat=csat,
        csat_responses=csat_responses,
        bot_containment=ratio(total - handoffs, total),
        handoff_rate=handoff_rate,
        handoffs=handoffs,
        sla_breaches=await activity.sla_breaches(session, scope),
        complaints=complaints,
        bookings=bookings,
        no_shows=no_shows,
        repeat_contact_rate=await customers.repeat_contact_rate(session, in_range),
        retention_90d=await customers.retention_90d(session, end=end, channel=channel),
        lead_conversion=await customers.lead_conversion(
            session, start=start, end=end, channel=channel
        ),
    )


async def _durations(
    session: AsyncSession, scope: Any, in_range: list[Any]
) -> tuple[list[float], list[float]]:
    """First-response and resolution seconds: one row per conversation, messages stay in SQL."""
    first = [
        s
        for _, handoff_at, answered_at in await session.execute(first_responses_query(scope))
        if (s := seconds(handoff_at, answered_at)) is not None
    ]
    rows = await session.execute(
        select(Conversation.created_at, Conversation.resolved_at).where(
            *in_range, Conversation.resolved_at.is_not(None)
        )
    )
    resolution = [s for opened, closed in rows if (s := seconds(opened, closed)) is not None]
    return first, resolution


async def _csat(session: AsyncSession, in_range: list[Any]) -> tuple[float | None, int]:
    """Mean of the 1–5 answers and how many there were."""
    mean, count = (
        await session.execute(
            select(func.avg(Conversation.csat), func.count(Conversation.csat)).where(
                *in_range, Conversation.csat.between(1, 5)
            )
        )
    ).one()
    return (round(float(mean), 2) if count else None), int(count or 0)


async def _handed_off(session: AsyncSession, in_range: list[Any]) -> int:
    """Conversations with at least one status_changed to waiting_agent or agent."""
    handed = exists().where(and_(TimelineEvent.conversation_id == Conversation.id, to_human()))
    return int(
        await session.scalar(
            select(func.count()).select_from(Conversation).where(*in_range, handed)
        )
        or 0
    )
