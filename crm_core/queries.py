"""Named read queries used by the API: customers with their details, batched per page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import ContactPoint, Identity, Message, TimelineEvent


async def details_of(
    session: AsyncSession, customer_ids: Sequence[str]
) -> tuple[dict[str, list[ContactPoint]], dict[str, list[Identity]]]:
    """Contact points and identities of many customers in two queries (no N+1)."""
    points: dict[str, list[ContactPoint]] = defaultdict(list)
    identities: dict[str, list[Identity]] = defaultdict(list)
    if not customer_ids:
        return points, identities
    for point in (
        await session.execute(
            select(ContactPoint)
            .where(ContactPoint.customer_id.in_(customer_ids))
            .order_by(ContactPoint.created_at)
        )
    ).scalars():
        points[point.customer_id].append(point)
    for identity in (
        await session.execute(
            select(Identity)
            .where(Identity.customer_id.in_(customer_ids))
            .order_by(Identity.created_at)
        )
    ).scalars():
        identities[identity.customer_id].append(identity)
    return points, identities


def customer_ids_matching_point(kind: str, value: str) -> Select[tuple[str]]:
    """Sub-select of customers owning a contact point."""
    return select(ContactPoint.customer_id).where(
        ContactPoint.kind == kind, ContactPoint.value == value
    )


def customer_ids_with_identity(channel: str, external_id: str) -> Select[tuple[str]]:
    """Sub-select of the customer behind a channel handle."""
    return select(Identity.customer_id).where(
        Identity.channel == channel, Identity.external_id == external_id
    )


async def transcript_of(
    session: AsyncSession, conversation_id: str
) -> tuple[list[Message], list[TimelineEvent]]:
    """A conversation's messages and timeline events, each oldest first."""
    messages = await session.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
    )
    events = await session.execute(
        select(TimelineEvent)
        .where(TimelineEvent.conversation_id == conversation_id)
        .order_by(TimelineEvent.created_at, TimelineEvent.id)
    )
    return list(messages.scalars()), list(events.scalars())
