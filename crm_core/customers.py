"""Identity resolution: the customer behind a channel handle, joined on verified details."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.contacts import normalize_email, normalize_phone
from crm_core.merges import merge_customers, suggest
from crm_core.models import (
    ContactPoint,
    Customer,
    Identity,
)


@dataclass(frozen=True)
class Resolved:
    """The customer and identity an inbound event belongs to."""

    customer: Customer
    identity: Identity
    created: bool


async def resolve_identity(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    display_name: str | None = None,
    username: str | None = None,
    language: str | None = None,
) -> Resolved:
    """Return the identity's customer, creating both when new (race-safe on the unique key)."""
    found = await _identity(session, channel, external_id)
    if found is not None:
        customer = await session.get_one(Customer, found.customer_id)
        if display_name and not customer.name:
            customer.name = display_name
        return Resolved(customer, found, created=False)
    try:
        async with session.begin_nested():
            customer = Customer(name=display_name, language=language)
            session.add(customer)
            await session.flush()
            identity = Identity(
                customer_id=customer.id,
                channel=channel,
                external_id=external_id,
                display_name=display_name,
                username=username,
            )
            session.add(identity)
            await session.flush()
    except IntegrityError:
        # Another worker created it first: the unique key decides, we re-select.
        found = await _identity(session, channel, external_id)
        if found is None:
            raise
        return Resolved(await session.get_one(Customer, found.customer_id), found, created=False)
    timeline.record(
        session,
        customer_id=customer.id,
        kind="identity_linked",
        actor_type="system",
        data={"channel": channel, "external_id": external_id},
    )
    return Resolved(customer, identity, created=True)


async def _identity(session: AsyncSession, channel: str, external_id: str) -> Identity | None:
    stmt = select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_contact_details(
    session: AsyncSession,
    resolved: Resolved,
    *,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
    verified: bool,
    source: str,
    region: str,
    join_on_verified_match: bool,
) -> Resolved:
    """Store shared details; a verified match with another customer joins the two.

    An unverified detail that matches someone's verified one joins only when the channel's
    policy says so (`join_on_verified_match`, the web chat's); otherwise a human gets a merge
    suggestion on the timeline. Joining moves every row, so no history is lost.
    """
    points = []
    if phone and (e164 := normalize_phone(phone, region=region)):
        points.append(("phone", e164))
    if email and (address := normalize_email(email)):
        points.append(("email", address))
    current = resolved
    for kind, value in points:
        owner = await _verified_owner(session, kind, value)
        if owner is not None and owner.id != current.customer.id:
            if verified or join_on_verified_match:
                current = await _join(session, current, owner, kind=kind)
            else:
                await suggest(
                    session,
                    customer_id=current.customer.id,
                    other_customer_id=owner.id,
                    kind=kind,
                    value=value,
                )
        elif owner is None:
            for other in await _unverified_owners(session, kind, value, current.customer.id):
                await suggest(
                    session,
                    customer_id=current.customer.id,
                    other_customer_id=other,
                    kind=kind,
                    value=value,
                )
        await _upsert_point(
            session,
            current.customer.id,
            kind,
            value,
            verified=verified and owner is None,
            source=source,
        )
    if name and not current.customer.name:
        current.customer.name = name
    return current


async def _verified_owner(session: AsyncSession, kind: str, value: str) -> Customer | None:
    stmt = (
        select(Customer)
        .join(ContactPoint, ContactPoint.customer_id == Customer.id)
        .where(ContactPoint.kind == kind, ContactPoint.value == value, ContactPoint.verified)
    )
    return (await session.execute(stmt)).scalars().first()


async def _unverified_owners(
    session: AsyncSession, kind: str, value: str, customer_id: str
) -> list[str]:
    stmt = select(ContactPoint.customer_id).where(
        ContactPoint.kind == kind,
        ContactPoint.value == value,
        ContactPoint.customer_id != customer_id,
    )
    return list(dict.fromkeys((await session.execute(stmt)).scalars()))


async def _join(
    session: AsyncSession, current: Resolved, owner: Customer, *, kind: str
) -> Resolved:
    """Merge the current customer into the one owning the matching verified detail."""
    source = current.customer
    await merge_customers(
        session,
        source_id=source.id,
        target=owner,
        reason=f"verified {kind} matched",
        actor_type="system",
    )
    timeline.record(
        session,
        customer_id=owner.id,
        kind="identity_linked",
        actor_type="system",
        data={
            "channel": current.identity.channel,
            "external_id": current.identity.external_id,
            "matched": kind,
            "merged_customer_id": source.id,
        },
    )
    await session.refresh(current.identity)
    return Resolved(owner, current.identity, created=False)


async def _upsert_point(
    session: AsyncSession, customer_id: str, kind: str, value: str, *, verified: bool, source: str
) -> None:
    stmt = select(ContactPoint).where(
        ContactPoint.customer_id == customer_id,
        ContactPoint.kind == kind,
        ContactPoint.value == value,
    )
    point = (await session.execute(stmt)).scalar_one_or_none()
    if point is None:
        session.add(
            ContactPoint(
                customer_id=customer_id, kind=kind, value=value, verified=verified, source=source
            )
        )
    elif verified and not point.verified:
        point.verified = True
    await session.flush()
