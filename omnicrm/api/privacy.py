"""Data-subject export and erasure (admin only, audited).

Included before the customers router, whose `/customers/{id}` must not shadow these paths.
"""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from crm_core.erasure import erase_customer
from crm_core.models import Customer
from crm_core.privacy import CustomerNotFound, export_customer
from omnicrm.api.deps import AdminDep, RuntimeDep
from omnicrm.api.errors import ApiError

router = APIRouter(prefix="/customers", tags=["privacy"])


class EraseIn(BaseModel):
    confirm: str = Field(max_length=64, description="the customer's id again, typed by a human")


class EraseOut(BaseModel):
    customer_id: str
    already_erased: bool
    erased_at: datetime | None
    counts: dict[str, int]


@router.get("/{customer_id}/export", response_class=Response)
async def export_data(customer_id: str, principal: AdminDep, runtime: RuntimeDep) -> Response:
    """Everything held about the customer, as a JSON file (the access is audited)."""
    async with runtime.db.transaction() as session:
        try:
            document = await export_customer(session, customer_id, actor=principal)
        except CustomerNotFound as exc:
            raise ApiError(404, "not_found", "no such customer") from exc
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/{customer_id}/erase", response_model=EraseOut)
async def erase(
    customer_id: str, body: EraseIn, principal: AdminDep, runtime: RuntimeDep
) -> EraseOut:
    """Remove the customer's personal data for good; `confirm` must repeat the id."""
    async with runtime.db.transaction() as session:
        customer = await session.get(Customer, customer_id)
        if customer is None:
            raise ApiError(404, "not_found", "no such customer")
        if body.confirm != customer_id:
            raise ApiError(422, "confirmation_mismatch", "confirm must be the customer's id")
        result = await erase_customer(session, customer_id, principal)
        erased_at = customer.erased_at
    return EraseOut(
        customer_id=customer_id,
        already_erased=result.already_erased,
        erased_at=erased_at,
        counts=result.counts,
    )
