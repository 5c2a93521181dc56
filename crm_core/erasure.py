"""Erasing a data subject: personal data goes, a PII-free record of what existed stays.

The customer row is kept (`erased_at` set) with its ids, dates, lifecycle stage and counts, so
reports still add up and foreign keys still hold. Identities are anonymised rather than
deleted, because conversations (and their counts) hang off them. Nothing queued for the
person is sent afterwards: queued replies fail, and every handle is marked opted out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import erasure_steps as steps
from crm_core import timeline
from crm_core.audit import audit
from crm_core.erasure_scrub import Needles
from crm_core.models import ContactPoint, Conversation, Customer, Identity, WebchatSession
from crm_core.privacy import Actor, CustomerNotFound
from crm_core.types import utcnow


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure did (counts only), or that it had been done before."""

    customer_id: str
    already_erased: bool
    counts: dict[str, int] = field(default_factory=dict)


async def erase_customer(session: AsyncSession, customer_id: str, actor: Actor) -> ErasureResult:
    """Remove the customer's personal data in the caller's transaction; safe to repeat."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    if customer.erased_at is not None:
        _audit(session, customer_id, actor, {"already_erased": True})
        return ErasureResult(customer_id, already_erased=True)
    needles = await _needles(session, customer)
    owned = select(Conversation.id).where(Conversation.customer_id == customer_id)
    conversation_ids = list(await session.scalars(owned))
    counts = {
        "inbox_events": await steps.scrub_inbox_events(session, customer_id),
        "identities": await steps.anonymise_identities(session, customer_id),
        "contact_points": await steps.delete_owned(session, ContactPoint, customer_id),
        "webchat_sessions": await steps.delete_owned(session, WebchatSession, customer_id),
        "cancelled_outbound": await steps.cancel_queued(session, customer_id),
        "files": await steps.delete_files(session, customer_id),
        "messages": await steps.scrub_messages(session, customer_id, conversation_ids, needles),
        "conversations": await steps.close_conversations(session, customer_id, actor),
        "tickets": await steps.scrub_tickets(session, customer_id),
        "appointments": await steps.scrub_appointments(session, customer_id),
        "purchases": await steps.scrub_purchases(session, customer_id),
        "timeline_events": await steps.scrub_timeline(session, customer_id, needles),
        "merge_suggestions": await steps.close_suggestions(session, customer_id),
    }
    await steps.scrub_merges(session, customer_id)
    await steps.scrub_automation(session, customer_id, needles)
    customer.name = None
    customer.tags = []
    customer.attributes = {}
    customer.erased_at = utcnow()
    timeline.record(
        session,
        customer_id=customer_id,
        kind="customer_erased",
        actor_type=actor.kind,
        actor_id=actor.id,
        data={"counts": counts},
    )
    _audit(session, customer_id, actor, {"counts": counts})
    await session.flush()
    return ErasureResult(customer_id, already_erased=False, counts=counts)


def _audit(session: AsyncSession, customer_id: str, actor: Actor, data: dict[str, Any]) -> None:
    audit(
        session,
        action="customer_erase",
        actor_type=actor.kind,
        actor_id=actor.id,
        object_type="customer",
        object_id=customer_id,
        data=data,
    )


async def _needles(session: AsyncSession, customer: Customer) -> Needles:
    """The person's own strings: whatever still holds one of them is not kept."""
    values: list[str | None] = [customer.name]
    points = await session.scalars(
        select(ContactPoint.value).where(ContactPoint.customer_id == customer.id)
    )
    values += list(points)
    for identity in await session.scalars(
        select(Identity).where(Identity.customer_id == customer.id)
    ):
        values += [identity.external_id, identity.display_name, identity.username]
    return Needles.of(values)
