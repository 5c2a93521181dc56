"""`GET /api/v1/services`: the bookable catalogue (managed further by the booking work)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from crm_core.models import Service
from omnicrm.api.deps import AgentDep, SessionDep
from omnicrm.api.schemas import Page, ServiceOut

router = APIRouter(prefix="/services", tags=["services"])


@router.get("", response_model=Page[ServiceOut])
async def list_services(_: AgentDep, session: SessionDep) -> dict[str, object]:
    """Active services, by name; the catalogue is small, so one page."""
    stmt = select(Service).where(Service.active).order_by(Service.name_en)
    return {"items": list((await session.execute(stmt)).scalars()), "next_cursor": None}
