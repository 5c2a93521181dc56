"""Per-conversation figures of a range: response times, CSAT, handoffs and SLA breaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Conversation, TimelineEvent
from crm_core.reporting.metrics_stats import ratio
from crm_core.reporting.metrics_times import first_responses_query, seconds, to_human

SCORES = ("1", "2", "3", "4", "5")
SATISFIED = ("4", "5")


@dataclass(frozen=True)
class Csat:
    """The 1–5 answers: how many of each score (all five keys, zeros included)."""

    distribution: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))

    @property
    def responses(self) -> int:
        return sum(self.distribution.values())

    @property
    def mean(self) -> float | None:
        total = sum(int(score) * n for score, n in self.distribution.items())
        return round(total / self.responses, 2) if self.responses else None

    @property
    def satisfied(self) -> float | None:
        """Share of answers that are 4 or 5."""
        return ratio(sum(self.distribution[s] for s in SATISFIED), self.responses)


async def durations(
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


async def csat(session: AsyncSession, in_range: list[Any]) -> Csat:
    """Count of each 1–5 answer on the conversations in range."""
    rows = await session.execute(
        select(Conversation.csat, func.count())
        .where(*in_range, Conversation.csat.between(1, 5))
        .group_by(Conversation.csat)
    )
    counts = dict.fromkeys(SCORES, 0)
    for score, n in rows:
        counts[str(score)] = int(n)
    return Csat(counts)


async def handed_off(session: AsyncSession, in_range: list[Any]) -> int:
    """Conversations with at least one status_changed to waiting_agent or agent."""
    handed = exists().where(and_(TimelineEvent.conversation_id == Conversation.id, to_human()))
    return int(
        await session.scalar(
            select(func.count()).select_from(Conversation).where(*in_range, handed)
        )
        or 0
    )


async def sla_breaches(session: AsyncSession, scope: Any) -> tuple[int, int]:
    """(`sla_breached` events, conversations with at least one) among those in range.

    The handoff scheduler records one `sla_breached` per handoff whose first response is
    overdue, so a conversation handed off twice can breach twice.
    """
    events, conversations = (
        await session.execute(
            select(func.count(), func.count(func.distinct(TimelineEvent.conversation_id))).where(
                TimelineEvent.kind == "sla_breached", TimelineEvent.conversation_id.in_(scope)
            )
        )
    ).one()
    return int(events or 0), int(conversations or 0)
