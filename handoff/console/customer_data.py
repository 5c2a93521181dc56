"""What the customer 360° page shows, read in one session: profile, handles and consent,
contact details (masked for agents when configured), purchases, tickets, appointments,
merge suggestions and past merges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import (
    Appointment,
    ContactPoint,
    Customer,
    CustomerMerge,
    Identity,
    MergeSuggestion,
    Purchase,
    Service,
    Ticket,
    TimelineEvent,
)
from crm_core.tickets import OPEN_STATUSES
from handoff.masking import mask_email, mask_handle, mask_phone

LIST_CAP = 50


@dataclass(frozen=True)
class Handle:
    """The customer on one channel, with that channel's consent state."""

    identity: Identity
    shown_id: str

    @property
    def opted_out(self) -> bool:
        return self.identity.opted_out_at is not None


@dataclass(frozen=True)
class Contact:
    kind: str
    value: str
    verified: bool
    source: str | None


@dataclass(frozen=True)
class Suggested:
    """An open merge suggestion seen from this customer: who the other one is."""

    suggestion: MergeSuggestion
    other_id: str
    other_name: str | None
    value: str


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    service_name: str


@dataclass(frozen=True)
class Profile:
    """Everything on the page except the timeline (which pages on its own)."""

    customer: Customer
    handles: list[Handle]
    contacts: list[Contact]
    purchases: Sequence[Purchase]
    lifetime_value: str
    tickets: list[Ticket]
    upcoming: list[Booked]
    past: list[Booked]
    suggestions: list[Suggested]
    merges: Sequence[CustomerMerge]
    erased_counts: dict[str, Any] = field(default_factory=dict)

    @property
    def erased(self) -> bool:
        return self.customer.erased_at is not None


def shown_contact(kind: str, value: str, masked: bool) -> str:
    """A phone or e-mail as this reader may see it."""
    if not masked:
        return value
    return mask_phone(value) if kind == "phone" else mask_email(value)


async def load_profile(
    session: AsyncSession, customer_id: str, *, masked: bool, lang: str, now: datetime
) -> Profile | None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return None
    identities = await session.scalars(
        select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.created_at)
    )
    points = await session.scalars(
        select(ContactPoint)
        .where(ContactPoint.customer_id == customer_id)
        .order_by(ContactPoint.created_at)
    )
    purchases = (
        await session.scalars(
            select(Purchase)
            .where(Purchase.customer_id == customer_id)
            .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
            .limit(LIST_CAP)
        )
    ).all()
    upcoming, past = await _appointments(session, customer_id, lang=lang, now=now)
    return Profile(
        customer=customer,
        handles=[
            Handle(i, mask_handle(i.channel, i.external_id) if masked else i.external_id)
            for i in identities
        ],
        contacts=[
            Contact(p.kind, shown_contact(p.kind, p.value, masked), p.verified, p.source)
            for p in points
        ],
        purchases=purchases,
        lifetime_value=await _lifetime_value(session, customer_id),
        tickets=await _tickets(session, customer_id),
        upcoming=upcoming,
        past=past,
        suggestions=await _suggestions(session, customer_id, masked=masked),
        merges=(
            await session.scalars(
                select(CustomerMerge)
                .where(CustomerMerge.target_id == customer_id)
                .order_by(CustomerMerge.merged_at.desc())
                .limit(LIST_CAP)
            )
        ).all(),
        erased_counts=await _erased_counts(session, customer) if customer.erased_at else {},
    )


async def _lifetime_value(session: AsyncSession, customer_id: str) -> str:
    totals = await session.execute(
        select(Purchase.currency, func.sum(Purchase.amount))
        .where(Purchase.customer_id == customer_id)
        .group_by(Purchase.currency)
        .order_by(Purchase.currency)
    )
    return ", ".join(f"{int(amount):,} {currency}" for currency, amount in totals.all()) or "0"


async def _tickets(session: AsyncSession, customer_id: str) -> list[Ticket]:
    """Open tickets first (newest first within each group)."""
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(LIST_CAP)
    )
    return sorted(rows, key=lambda t: t.status not in OPEN_STATUSES)


async def _appointments(
    session: AsyncSession, customer_id: str, *, lang: str, now: datetime
) -> tuple[list[Booked], list[Booked]]:
    """Upcoming (soonest first), then the rest (latest first)."""
    name = Service.name_vi if lang == "vi" else Service.name_en
    base = (
        select(Appointment, name)
        .join(Service, Service.id == Appointment.service_id)
        .where(Appointment.customer_id == customer_id)
    )
    soon = base.where(Appointment.starts_at >= now).order_by(Appointment.starts_at)
    before = base.where(Appointment.starts_at < now).order_by(Appointment.starts_at.desc())
    upcoming = (await session.execute(soon.limit(LIST_CAP))).all()
    past = (await session.execute(before.limit(LIST_CAP))).all()
    return [Booked(a, n) for a, n in upcoming], [Booked(a, n) for a, n in past]


async def _suggestions(
    session: AsyncSession, customer_id: str, *, masked: bool
) -> list[Suggested]:
    involved = or_(
        MergeSuggestion.customer_id == customer_id,
        MergeSuggestion.other_customer_id == customer_id,
    )
    rows = (
        await session.scalars(
            select(MergeSuggestion)
            .where(involved, MergeSuggestion.status == "open")
            .order_by(MergeSuggestion.created_at.desc())
            .limit(LIST_CAP)
        )
    ).all()
    others = {s.other_customer_id if s.customer_id == customer_id else s.customer_id for s in rows}
    rows_named = await session.execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(others))
    )
    names = {customer_id: name for customer_id, name in rows_named.all()}
    found = []
    for s in rows:
        other = s.other_customer_id if s.customer_id == customer_id else s.customer_id
        found.append(Suggested(s, other, names.get(other), shown_contact(s.kind, s.value, masked)))
    return found


async def _erased_counts(session: AsyncSession, customer: Customer) -> dict[str, Any]:
    """What the erasure removed, from its PII-free timeline event."""
    event = await session.scalar(
        select(TimelineEvent)
        .where(TimelineEvent.customer_id == customer.id, TimelineEvent.kind == "customer_erased")
        .order_by(TimelineEvent.created_at.desc())
        .limit(1)
    )
    counts = event.data.get("counts") if event is not None else None
    return dict(counts) if isinstance(counts, dict) else {}
