"""The customer card an agent sees next to a handed-off conversation, whatever the inbox.

Kept out of the Slack and console packages so both show the same facts from the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import Database
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    Identity,
    Purchase,
    TimelineEvent,
)


@dataclass(frozen=True)
class IdentityRef:
    """One handle of the customer on a channel, with the name shown there."""

    channel: str
    external_id: str
    display_name: str | None = None
    username: str | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class Card:
    """What an agent needs at a glance; the money figures are preformatted per currency."""

    conversation_id: str
    customer_id: str
    name: str
    language: str | None
    lifecycle_stage: str
    tags: list[str] = field(default_factory=list)
    identities: list[IdentityRef] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    lifetime_value: str = "0"
    last_purchase: str | None = None
    last_purchase_at: datetime | None = None
    reason: str | None = None
    skill: str | None = None

    @property
    def channels(self) -> list[str]:
        return sorted({identity.channel for identity in self.identities})


async def load_card(db: Database, conversation_id: str) -> Card:
    """The card of a conversation (LookupError when there is no such conversation)."""
    async with db.reading() as session:
        return await read_card(session, conversation_id)


async def read_card(session: AsyncSession, conversation_id: str) -> Card:
    """The same, inside a session the caller already holds (one page, one connection)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    cid = conversation.customer_id
    customer = await session.get(Customer, cid)
    identities = (
        await session.scalars(
            select(Identity).where(Identity.customer_id == cid).order_by(Identity.created_at)
        )
    ).all()
    points = (
        await session.scalars(
            select(ContactPoint)
            .where(ContactPoint.customer_id == cid)
            .order_by(ContactPoint.created_at)
        )
    ).all()
    totals = (
        await session.execute(
            select(Purchase.currency, func.sum(Purchase.amount))
            .where(Purchase.customer_id == cid)
            .group_by(Purchase.currency)
            .order_by(Purchase.currency)
        )
    ).all()
    last = await session.scalar(
        select(Purchase)
        .where(Purchase.customer_id == cid)
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
        .limit(1)
    )
    return Card(
        conversation_id=conversation_id,
        customer_id=cid,
        name=customer.name if customer and customer.name else "Unknown customer",
        language=conversation.language or (customer.language if customer else None),
        lifecycle_stage=customer.lifecycle_stage if customer else "lead",
        tags=[str(tag) for tag in (customer.tags if customer else [])],
        identities=[
            IdentityRef(
                channel=i.channel,
                external_id=i.external_id,
                display_name=i.display_name,
                username=i.username,
                opted_out=i.opted_out_at is not None,
            )
            for i in identities
        ],
        phones=[p.value for p in points if p.kind == "phone"],
        emails=[p.value for p in points if p.kind == "email"],
        lifetime_value=", ".join(f"{int(amount):,} {cur}" for cur, amount in totals) or "0",
        last_purchase=(
            f"{last.description} ({last.amount:,} {last.currency}, {last.purchased_at:%Y-%m-%d})"
            if last
            else None
        ),
        last_purchase_at=last.purchased_at if last else None,
        reason=await handoff_reason(session, conversation_id),
        skill=conversation.skill,
    )


async def handoff_reason(session: AsyncSession, conversation_id: str) -> str | None:
    """Why the conversation left the bot for the agents, from its timeline."""
    return (await handoff_reasons(session, [conversation_id])).get(conversation_id)


async def handoff_reasons(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    """Why each conversation left the bot: the reason of its latest move out of `bot`
    (a requeue's "no_reply" is not why the customer is here)."""
    if not ids:
        return {}
    events = await session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.conversation_id.in_(ids),
            TimelineEvent.kind == "status_changed",
        )
        .order_by(TimelineEvent.created_at, TimelineEvent.id)
    )
    reasons: dict[str, str] = {}
    for event in events:
        if event.data.get("from") == "bot" and event.data.get("reason"):
            reasons[str(event.conversation_id)] = str(event.data["reason"])
    return reasons
