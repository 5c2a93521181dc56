"""First-response and resolution times, computed from the timeline and messages (DESIGN.md).

Nothing is kept by hand: the handoff is the latest `status_changed` out of `bot`, the first
response is the first agent message after it, the resolution is `resolved_at`. The rules live
in crm_core.reporting.metrics_times so the metrics summary computes the very same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Conversation
from crm_core.reporting.metrics_times import first_agent_replies, handoff_starts, seconds

__all__ = ["Times", "conversation_times", "first_agent_replies", "handoff_starts"]


@dataclass(frozen=True)
class Times:
    """Seconds from handoff to the first agent reply, and from opening to resolution."""

    handoff_at: datetime | None
    first_response_at: datetime | None
    first_response_s: float | None
    resolution_s: float | None


async def conversation_times(session: AsyncSession, conversation_id: str) -> Times:
    """The figures of one conversation (None where the event has not happened)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    starts = await handoff_starts(session, [conversation_id])
    handoff_at = starts.get(conversation_id)
    answered = (await first_agent_replies(session, starts)).get(conversation_id)
    resolution_s = seconds(conversation.created_at, conversation.resolved_at)
    return Times(handoff_at, answered, seconds(handoff_at, answered), resolution_s)
