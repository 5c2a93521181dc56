"""`/api/v1/services`: the bookable catalogue; agents read it, supervisors shape it."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_core.models import Service
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page, ServiceOut

router = APIRouter(prefix="/services", tags=["services"])
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
Name = Annotated[str, Field(min_length=1, max_length=200)]
Alias = Annotated[str, Field(min_length=1, max_length=100)]
Aliases = Annotated[list[Alias], Field(max_length=50)]


class ServiceDetail(ServiceOut):
    """A service with what the booking calendar needs."""

    buffer_minutes: int
    capacity: int
    aliases: list[Any]


class ServiceIn(BaseModel):
    key: str
    name_vi: Name
    name_en: Name
    duration_minutes: int = Field(ge=5, le=24 * 60)
    price: int = Field(ge=0)
    currency: str = Field(default="VND", pattern=r"^[A-Z]{3}$")
    buffer_minutes: int = Field(default=0, ge=0, le=240)
    capacity: int = Field(default=1, ge=1, le=100)
    aliases: Aliases = []
    active: bool = True

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY.match(value):
            raise ValueError("lower-case letters, digits, '_' or '-' (at most 64)")
        return value


class ServicePatch(BaseModel):
    name_vi: Name | None = None
    name_en: Name | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    price: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    buffer_minutes: int | None = Field(default=None, ge=0, le=240)
    capacity: int | None = Field(default=None, ge=1, le=100)
    aliases: Aliases | None = None
    active: bool | None = None


@router.get("", response_model=Page[ServiceDetail])
async def list_services(
    _: AgentDep, session: SessionDep, include_inactive: bool = False
) -> dict[str, object]:
    """Active services (all with include_inactive), by name; the catalogue is small: one page."""
    stmt = select(Service).order_by(Service.name_en)
    if not include_inactive:
        stmt = stmt.where(Service.active)
    return {"items": list((await session.execute(stmt)).scalars()), "next_cursor": None}


@router.post("", response_model=ServiceDetail, status_code=status.HTTP_201_CREATED)
async def create_service(body: ServiceIn, _: SupervisorDep, runtime: RuntimeDep) -> Service:
    try:
        async with runtime.db.transaction() as session:
            service = Service(**body.model_dump())
            session.add(service)
            await session.flush()
            return service
    except IntegrityError as exc:
        raise ApiError(409, "service_exists", f"a service with key {body.key!r} exists") from exc


@router.patch("/{service_id}", response_model=ServiceDetail)
async def update_service(
    service_id: str, body: ServicePatch, _: SupervisorDep, runtime: RuntimeDep
) -> Service:
    """Change what is given; existing appointments keep their times."""
    async with runtime.db.transaction() as session:
        service = await session.get(Service, service_id)
        if service is None:
            raise ApiError(404, "not_found", "no such service")
        for name, value in body.model_dump(exclude_unset=True).items():
            if value is None:
                raise ApiError(422, "validation_error", f"{name}: may not be null")
            setattr(service, name, value)
        await session.flush()
        return service
