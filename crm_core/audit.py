"""The audit trail: exports, transcript views and erasures, recorded with ids only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import AuditLog


def audit(
    session: AsyncSession,
    *,
    action: str,
    actor_type: str,
    actor_id: str | None,
    object_type: str | None = None,
    object_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Add one entry to the caller's transaction; `data` must hold ids and counts, never PII."""
    entry = AuditLog(
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        object_type=object_type,
        object_id=object_id,
        data=data or {},
    )
    session.add(entry)
    return entry


def transcript_viewed(
    session: AsyncSession, *, actor_type: str, actor_id: str | None, conversation_id: str, via: str
) -> AuditLog:
    """A transcript was read (`via`: console, print, pdf, api): who and which conversation."""
    return audit(
        session,
        action="transcript_view",
        actor_type=actor_type,
        actor_id=actor_id,
        object_type="conversation",
        object_id=conversation_id,
        data={"via": via},
    )
