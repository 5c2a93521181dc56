"""The customer timeline: every interaction and state change, with its actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import TimelineEvent


def record(
    session: AsyncSession,
    *,
    customer_id: str,
    kind: str,
    actor_type: str,
    actor_id: str | None = None,
    conversation_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Add one event to the session (the caller's transaction commits it)."""
    event = TimelineEvent(
        customer_id=customer_id,
        conversation_id=conversation_id,
        kind=kind,
        actor_type=actor_type,
        actor_id=actor_id,
        data=data or {},
    )
    session.add(event)
    return event
