"""Per-page figures computed in SQL: handoff, first agent reply, containment, tickets.

Handoff and first response come from `metrics_times`, the one definition the metrics summary
and handoff/times.py share; a conversation is bot-contained when no `status_changed` ever
moved it to `waiting_agent` or `agent`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Ticket, TimelineEvent
from crm_core.reporting.metrics_times import first_responses_query, to_human
from crm_core.tickets_notify import ticket_label


@dataclass
class PageFigures:
    """What one page of conversations needs beyond its own columns, keyed by conversation id."""

    handed_off: set[str] = field(default_factory=set)
    handoff_at: dict[str, datetime] = field(default_factory=dict)
    first_reply_at: dict[str, datetime] = field(default_factory=dict)
    tickets: dict[str, list[str]] = field(default_factory=dict)


async def figures(session: AsyncSession, ids: Sequence[str]) -> PageFigures:
    """Three grouped queries for the whole page, never one per conversation."""
    result = PageFigures()
    if not ids:
        return result
    handed = select(TimelineEvent.conversation_id).where(
        TimelineEvent.conversation_id.in_(ids), to_human()
    )
    result.handed_off = {str(cid) for cid in await session.scalars(handed.distinct())}
    for conversation_id, handoff_at, answered_at in await session.execute(
        first_responses_query(list(ids))
    ):
        result.handoff_at[conversation_id] = handoff_at
        result.first_reply_at[conversation_id] = answered_at
    tickets = select(Ticket).where(Ticket.conversation_id.in_(ids)).order_by(Ticket.number)
    for ticket in (await session.scalars(tickets)).all():
        result.tickets.setdefault(str(ticket.conversation_id), []).append(ticket_label(ticket))
    return result
