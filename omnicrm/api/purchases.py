"""`/api/v1/purchases`: record a sale (idempotent on `external_id`) and list a customer's.

Recording only writes the row and a timeline event; the receipt e-mail is the automation's job
(`receipt:<purchase id>`), so a retried POST or a second worker can never mail twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.models import Customer, Purchase
from crm_core.types import utcnow
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(prefix="/purchases", tags=["purchases"])


class PurchaseItem(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    quantity: int = Field(default=1, ge=1)
    amount: int | None = Field(default=None, ge=0, description="line total, minor units")


class PurchaseIn(BaseModel):
    customer_id: str
    description: str = Field(min_length=1, max_length=300)
    amount: int = Field(ge=0, description="total in minor units of the currency (VND: đồng)")
    currency: str = Field(default="VND", min_length=3, max_length=3)
    items: list[PurchaseItem] = Field(default_factory=list)
    external_id: str | None = Field(
        default=None, max_length=120, description="your order number; a repeat returns the row"
    )
    purchased_at: datetime | None = None

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("an ISO 4217 code such as VND or USD")
        return value.upper()

    @field_validator("purchased_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-11-20T09:30:00+07:00)")
        return value


class PurchaseDetail(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    description: str
    amount: int
    currency: str
    items: list[dict[str, Any]]
    external_id: str | None
    purchased_at: datetime
    created_at: datetime


@router.post("", response_model=PurchaseDetail, status_code=201)
async def record_purchase(
    body: PurchaseIn, principal: SupervisorDep, runtime: RuntimeDep, response: Response
) -> Purchase:
    """Record a purchase; the same `external_id` again answers 200 with the stored row."""
    try:
        async with runtime.db.transaction() as session:
            existing = await _by_external_id(session, body.external_id)
            if existing is not None:
                response.status_code = 200
                return _same_customer(existing, body)
            if await session.get(Customer, body.customer_id) is None:
                raise ApiError(404, "not_found", "no such customer")
            purchase = Purchase(
                customer_id=body.customer_id,
                description=body.description,
                amount=body.amount,
                currency=body.currency,
                items=[item.model_dump(exclude_none=True) for item in body.items],
                external_id=body.external_id,
                purchased_at=body.purchased_at or utcnow(),
            )
            session.add(purchase)
            await session.flush()
            timeline.record(
                session,
                customer_id=purchase.customer_id,
                kind="purchase_recorded",
                actor_type=principal.kind,
                actor_id=principal.id,
                data={
                    "purchase_id": purchase.id,
                    "amount": purchase.amount,
                    "currency": purchase.currency,
                    "external_id": purchase.external_id,
                },
            )
            return purchase
    except IntegrityError:
        # Two POSTs with one external_id raced: the unique key let one in, return that one.
        async with runtime.db.reading() as session:
            existing = await _by_external_id(session, body.external_id)
        if existing is None:
            raise
        response.status_code = 200
        return _same_customer(existing, body)


async def _by_external_id(session: AsyncSession, external_id: str | None) -> Purchase | None:
    if not external_id:
        return None
    stmt = select(Purchase).where(Purchase.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def _same_customer(existing: Purchase, body: PurchaseIn) -> Purchase:
    if existing.customer_id != body.customer_id:
        raise ApiError(409, "conflict", "that external_id belongs to another customer's purchase")
    return existing


@router.get("", response_model=Page[PurchaseDetail])
async def list_purchases(
    _: AgentDep,
    session: SessionDep,
    customer_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Newest first; filter by `customer_id`."""
    stmt = select(Purchase)
    if customer_id:
        stmt = stmt.where(Purchase.customer_id == customer_id)
    return await pagination.fetch(
        session, stmt, Purchase, cursor=cursor, limit=limit, descending=True
    )
