"""The numbers supervisors read (GET /api/v1/metrics/summary and /console/dashboard),
computed from rows and timeline events over conversations created in [start, end) — never
from hand-kept counters.

Definitions (also in the README's Metrics section):
- conversations: created in [start, end), optionally on one channel; the population below.
  per_day: the same, per local day (OMNICRM_TIMEZONE) and channel.
- first response: from the latest bot → human handoff to the first agent message after it,
  for handed-off conversations an agent answered; resolution: created_at → resolved_at.
- median / p90: linear interpolation between closest ranks (metrics_stats.percentile).
- csat: mean of the 1–5 answers; csat_responses how many; csat_distribution the count of each
  score; csat_satisfied the share of 4s and 5s.
- handoff_rate: conversations with any `status_changed` to waiting_agent or agent /
  conversations; bot_containment = 1 − handoff_rate (the rest). None when no conversations.
- sla_breaches: `sla_breached` events (one per overdue handoff) on those conversations;
  sla_breached_conversations how many conversations breached; sla_breach_rate that over
  handed-off conversations.
- complaints (tickets) and bookings (appointments, no-shows among them) count by their own
  created_at in [start, end).
- repeat_contact_rate: customers with ≥ 2 conversations in range / customers with ≥ 1.
  repeat_contact_7d_rate: conversations in range followed by another conversation of the same
  customer (any channel) within 7 days / conversations whose 7 days are over at `now`.
- retention_90d: customers with a conversation in range who opened another one within 90 days
  of their first conversation in range / those whose 90 days are over (metrics_customers).
- lead_conversion: leads of the range whose first purchase falls in it / leads
  (metrics_conversion).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Conversation
from crm_core.reporting import metrics_activity as activity
from crm_core.reporting import metrics_conversations as per_conversation
from crm_core.reporting import metrics_customers as customers
from crm_core.reporting.metrics_conversion import lead_conversion
from crm_core.reporting.metrics_stats import percentile, ratio
from crm_core.types import utcnow


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
    csat_distribution: dict[str, int] = field(default_factory=dict)
    csat_satisfied: float | None = None
    bot_containment: float | None = None
    handoff_rate: float | None = None
    handoffs: int = 0
    sla_breaches: int = 0
    sla_breached_conversations: int = 0
    sla_breach_rate: float | None = None
    complaints: dict[str, dict[str, int]] = field(default_factory=dict)
    bookings: int = 0
    no_shows: int = 0
    repeat_contact_rate: float | None = None
    repeat_contact_7d_rate: float | None = None
    repeat_contact_7d_pending: int = 0
    retention_90d: float | None = None
    retention_customers: int = 0
    retention_pending: int = 0
    leads: int = 0
    conversions: int = 0
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
    now: datetime | None = None,
) -> Summary:
    """All the figures for conversations created in [start, end) (aware datetimes); `now`
    decides which 7- and 90-day windows are over (default: the current instant)."""
    moment = now or utcnow()
    in_range = [Conversation.created_at >= start, Conversation.created_at < end]
    if channel is not None:
        in_range.append(Conversation.channel == channel)
    scope = select(Conversation.id).where(*in_range)
    by_channel, per_day = await activity.volume(session, in_range, ZoneInfo(timezone))
    total = sum(by_channel.values())
    first, resolution = await per_conversation.durations(session, scope, in_range)
    csat = await per_conversation.csat(session, in_range)
    handoffs = await per_conversation.handed_off(session, in_range)
    breaches, breached = await per_conversation.sla_breaches(session, scope)
    bookings, no_shows = await activity.bookings(session, start=start, end=end, channel=channel)
    repeat_7d = await customers.repeat_within_7_days(session, in_range, now=moment)
    retention = await customers.retention_90d(session, in_range, now=moment)
    conversion = await lead_conversion(session, start=start, end=end, channel=channel)
    return Summary(
        conversations=total,
        by_channel=by_channel,
        per_day=per_day,
        first_response_median_s=percentile(first, 0.5),
        first_response_p90_s=percentile(first, 0.9),
        resolution_median_s=percentile(resolution, 0.5),
        resolution_p90_s=percentile(resolution, 0.9),
        csat=csat.mean,
        csat_responses=csat.responses,
        csat_distribution=csat.distribution,
        csat_satisfied=csat.satisfied,
        bot_containment=ratio(total - handoffs, total),
        handoff_rate=ratio(handoffs, total),
        handoffs=handoffs,
        sla_breaches=breaches,
        sla_breached_conversations=breached,
        sla_breach_rate=ratio(breached, handoffs),
        complaints=await activity.complaints(session, start=start, end=end, channel=channel),
        bookings=bookings,
        no_shows=no_shows,
        repeat_contact_rate=await customers.repeat_contact_rate(session, in_range),
        repeat_contact_7d_rate=repeat_7d.rate,
        repeat_contact_7d_pending=repeat_7d.pending,
        retention_90d=retention.rate,
        retention_customers=retention.judged,
        retention_pending=retention.pending,
        leads=conversion.leads,
        conversions=conversion.conversions,
        lead_conversion=conversion.rate,
    )
