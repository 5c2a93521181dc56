"""Customers: search (phone, email, free text, channel identity), the 360° view, the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, or_, select

from crm_core.contacts import normalize_email, normalize_phone
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    Message,
    Purchase,
    TimelineEvent,
)
from crm_core.queries import (
    customer_ids_matching_point,
    customer_ids_with_identity,
    details_of,
)
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import (
    ContactPointOut,
    ConversationOut,
    CustomerOut,
    CustomerView,
    IdentityOut,
    Page,
    PurchaseOut,
    TimelineEventOut,
)

router = APIRouter(prefix="/customers", tags=["customers"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
CHANNELS = {"telegram", "zalo", "sms", "email", "slack", "webchat"}


def _present(
    customer: Customer, points: list[ContactPoint], identities: list[IdentityOut]
) -> dict[str, object]:
    return {
        "id": customer.id,
        "name": customer.name,
        "phones": [p.value for p in points if p.kind == "phone"],
        "emails": [p.value for p in points if p.kind == "email"],
        "identities": identities,
        "lifecycle_stage": customer.lifecycle_stage,
        "language": customer.language,
        "tags": customer.tags,
        "created_at": customer.created_at,
        "last_seen_at": customer.last_seen_at,
    }


@router.get("", response_model=Page[CustomerOut])
async def search_customers(
    _: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    identity: Annotated[str | None, Query(max_length=300, description="<channel>:<id>")] = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Newest first; every filter given must match."""
    stmt = select(Customer)
    if phone is not None:
        e164 = normalize_phone(phone, region=runtime.settings.default_region)
        if e164 is None:
            raise ApiError(422, "invalid_phone", "phone is not a valid phone number")
        stmt = stmt.where(Customer.id.in_(customer_ids_matching_point("phone", e164)))
    if email is not None:
        address = normalize_email(email)
        if address is None:
            raise ApiError(422, "invalid_email", "email is not a valid e-mail address")
        stmt = stmt.where(Customer.id.in_(customer_ids_matching_point("email", address)))
    if identity is not None:
        channel, sep, external_id = identity.partition(":")
        if not sep or channel not in CHANNELS or not external_id:
            raise ApiError(422, "invalid_identity", "identity must be <channel>:<external id>")
        stmt = stmt.where(Customer.id.in_(customer_ids_with_identity(channel, external_id)))
    if q:
        pattern = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Customer.name).like(pattern),
                Customer.id.in_(
                    select(ContactPoint.customer_id).where(
                        func.lower(ContactPoint.value).like(pattern)
                    )
                ),
            )
        )
    result = await pagination.fetch(
        session, stmt, Customer, cursor=cursor, limit=limit, descending=True
    )
    rows = result["items"]
    points, identities = await details_of(session, [c.id for c in rows])
    result["items"] = [
        _present(c, points[c.id], [IdentityOut.model_validate(i) for i in identities[c.id]])
        for c in rows
    ]
    return result


@router.get("/{customer_id}", response_model=CustomerView)
async def get_customer(customer_id: str, _: AgentDep, session: SessionDep) -> dict[str, object]:
    """One customer's 360° view."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise ApiError(404, "not_found", "no such customer")
    points, identities = await details_of(session, [customer.id])
    conversations = (
        await session.execute(
            select(Conversation)
            .where(Conversation.customer_id == customer.id)
            .order_by(Conversation.created_at.desc())
            .limit(20)
        )
    ).scalars()
    messages = await session.execute(
        select(Message.direction, func.count())
        .where(Message.customer_id == customer.id)
        .group_by(Message.direction)
    )
    counts = {direction: count for direction, count in messages.all()}
    purchases = list(
        (
            await session.execute(
                select(Purchase)
                .where(Purchase.customer_id == customer.id)
                .order_by(Purchase.purchased_at.desc())
            )
        ).scalars()
    )
    view = _present(
        customer,
        points[customer.id],
        [IdentityOut.model_validate(i) for i in identities[customer.id]],
    )
    view["contact_points"] = [ContactPointOut.model_validate(p) for p in points[customer.id]]
    view["conversations"] = [ConversationOut.model_validate(c) for c in conversations]
    view["purchases"] = [PurchaseOut.model_validate(p) for p in purchases[:10]]
    view["stats"] = {
        "lifetime_value": sum(p.amount for p in purchases),
        "purchases": len(purchases),
        "last_purchase_at": purchases[0].purchased_at if purchases else None,
        "messages_in": counts.get("in", 0),
        "messages_out": counts.get("out", 0),
        "channels": sorted({i.channel for i in identities[customer.id]}),
    }
    return view


@router.get("/{customer_id}/timeline", response_model=Page[TimelineEventOut])
async def customer_timeline(
    customer_id: str,
    _: AgentDep,
    session: SessionDep,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Every event of the customer across channels, oldest first."""
    if await session.get(Customer, customer_id) is None:
        raise ApiError(404, "not_found", "no such customer")
    stmt = select(TimelineEvent).where(TimelineEvent.customer_id == customer_id)
    return await pagination.fetch(
        session, stmt, TimelineEvent, cursor=cursor, limit=limit, descending=False
    )
