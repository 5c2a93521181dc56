"""Handoff, first-response and resolution times from the timeline and message rows.

The one definition of these figures: handoff/times.py (single conversations, the SLA clock)
and the metrics summary (aggregates over a date range) both use it, so they cannot disagree.
A handoff is a `status_changed` event from `bot` to `waiting_agent` or `agent`; the clock
starts at the latest one (a requeue does not restart it); the first response is the first
outbound agent-authored message at or after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Message, TimelineEvent

HUMAN_STATUSES = ("waiting_agent", "agent")


def to_human() -> ColumnElement[bool]:
    """A `status_changed` event that puts the conversation with humans (from any status)."""
    return and_(
        TimelineEvent.kind == "status_changed",
        TimelineEvent.data["to"].as_string().in_(HUMAN_STATUSES),
    )


def handoff_starts_query(conversations: Any) -> Select[Any]:
    """(conversation_id, handoff_at) of the latest bot → human move of each conversation.

    `conversations` is anything `in_()` takes: a list of ids or a select of ids.
    """
    return (
        select(
            TimelineEvent.conversation_id,
            func.max(TimelineEvent.created_at).label("handoff_at"),
        )
        .where(
            TimelineEvent.conversation_id.in_(conversations),
            to_human(),
            TimelineEvent.data["from"].as_string() == "bot",
        )
        .group_by(TimelineEvent.conversation_id)
    )


def first_responses_query(conversations: Any) -> Select[Any]:
    """(conversation_id, handoff_at, answered_at), aggregated in SQL: no message is loaded."""
    starts = handoff_starts_query(conversations).subquery()
    return (
        select(
            starts.c.conversation_id,
            starts.c.handoff_at,
            func.min(Message.created_at).label("answered_at"),
        )
        .join(
            Message,
            and_(
                Message.conversation_id == starts.c.conversation_id,
                Message.direction == "out",
                Message.author_type == "agent",
                Message.created_at >= starts.c.handoff_at,
            ),
        )
        .group_by(starts.c.conversation_id, starts.c.handoff_at)
    )


async def handoff_starts(
    session: AsyncSession, conversation_ids: Sequence[str]
) -> dict[str, datetime]:
    """When each of these conversations last left the bot for humans."""
    if not conversation_ids:
        return {}
    rows = await session.execute(handoff_starts_query(list(conversation_ids)))
    return {conversation_id: handoff_at for conversation_id, handoff_at in rows}


async def first_agent_replies(
    session: AsyncSession, since: dict[str, datetime]
) -> dict[str, datetime]:
    """The first agent-authored outbound message at or after each conversation's instant.

    `since` is per conversation (a handoff, or a claim for the SLA clock), so the earliest
    candidate is taken in SQL and the per-conversation bound checked here.
    """
    if not since:
        return {}
    earliest = min(since.values())
    rows = await session.execute(
        select(Message.conversation_id, Message.created_at).where(
            Message.conversation_id.in_(list(since)),
            Message.direction == "out",
            Message.author_type == "agent",
            Message.created_at >= earliest,
        )
    )
    first: dict[str, datetime] = {}
    for conversation_id, created_at in rows:
        if created_at >= since[conversation_id]:
            known = first.get(conversation_id)
            first[conversation_id] = created_at if known is None else min(known, created_at)
    return first


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """end − start in seconds, None unless both happened."""
    return (end - start).total_seconds() if start and end else None
