"""Customers: search (phone, email, free text, channel identity), the 360° view, the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, or_, select

from crm_core.auth import Principal
from crm_core.contacts import normalize_email, normalize_phone
from crm_core.enums import Role
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    Identity,
    Message,
    Purchase,
    TimelineEvent,
)
from crm_core.queries import (
    customer_ids_matching_point,
    customer_ids_with_identity,
    details_of,
)
from handoff.masking import mask_email, mask_handle, mask_phone
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
from omnicrm.runtime import Runtime

router = APIRouter(prefix="/customers", tags=["customers"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
CHANNELS = {"telegram", "zalo", "sms", "email", "slack", "webchat"}


def masks_for(principal: Principal, runtime: Runtime) -> bool:
    """OMNICRM_MASK_CONTACTS hides phones and e-mails from the agent role (not from the search:
    an agent may type a full number, the answer shows it masked)."""
    return runtime.settings.mask_contacts and not principal.role.allows(Role.SUPERVISOR)


def _point(point: ContactPoint, masked: bool) -> str:
    if not masked:
        return point.value
    return mask_phone(point.value) if point.kind == "phone" else mask_email(point.value)


def _identities(rows: list[Identity], masked: bool) -> list[IdentityOut]:
    out = [IdentityOut.model_validate(row) for row in rows]
    if masked:
        out = [
            i.model_copy(update={"external_id": mask_handle(i.channel, i.external_id)})
            for i in out
        ]
    return out


def _present(
    customer: Customer, points: list[ContactPoint], identities: list[Identity], masked: bool
) -> dict[str, object]:
    return {
        "id": customer.id,
        "name": customer.name,
        "phones": [_point(p, masked) for p in points if p.kind == "phone"],
        "emails": [_point(p, masked) for p in points if p.kind == "email"],
        "identities": _identities(identities, masked),
        "lifecycle_stage": customer.lifecycle_stage,
        "language": customer.language,
        "tags": customer.tags,
        "created_at": customer.created_at,
        "last_seen_at": customer.last_seen_at,
        "erased_at": customer.erased_at,
    }


@router.get("", response_model=Page[CustomerOut])
async def search_customers(
    principal: AgentDep,
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
    masked = masks_for(principal, runtime)
    result["items"] = [_present(c, points[c.id], identities[c.id], masked) for c in rows]
    return result


@router.get("/{customer_id}", response_model=CustomerView)
async def get_customer(
    customer_id: str, principal: AgentDep, session: SessionDep, runtime: RuntimeDep
) -> dict[str, object]:
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
    masked = masks_for(principal, runtime)
    view = _present(customer, points[customer.id], identities[customer.id], masked)
    view["contact_points"] = [
        ContactPointOut.model_validate(p).model_copy(update={"value": _point(p, masked)})
        for p in points[customer.id]
    ]
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
    principal: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Every event of the customer across channels, oldest first."""
    if await session.get(Customer, customer_id) is None:
        raise ApiError(404, "not_found", "no such customer")
    stmt = select(TimelineEvent).where(TimelineEvent.customer_id == customer_id)
    result = await pagination.fetch(
        session, stmt, TimelineEvent, cursor=cursor, limit=limit, descending=False
    )
    if masks_for(principal, runtime):
        result["items"] = [_masked_event(event) for event in result["items"]]
    return result


def _masked_event(event: TimelineEvent) -> TimelineEventOut:
    """An identity linked on SMS or e-mail names its phone or address: masked like them."""
    out = TimelineEventOut.model_validate(event)
    handle, channel = event.data.get("external_id"), event.data.get("channel")
    if isinstance(handle, str) and isinstance(channel, str):
        data = {**event.data, "external_id": mask_handle(channel, handle)}
        out = out.model_copy(update={"data": data})
    return out
