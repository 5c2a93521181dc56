"""Admin-only endpoints: API keys and console users (keys are shown once, at creation)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_core.auth import create_agent, create_api_key
from crm_core.enums import Role
from crm_core.models import Agent, ApiKey
from crm_core.types import utcnow
from omnicrm.api.deps import AdminDep, RuntimeDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(tags=["admin"])


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str


class UserIn(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    role: Role
    password: str = Field(min_length=8, max_length=200)
    name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: str
    active: bool
    created_at: datetime


def _key_out(row: ApiKey) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


@router.get("/api-keys", response_model=Page[ApiKeyOut])
async def list_keys(_: AdminDep, runtime: RuntimeDep) -> dict[str, object]:
    async with runtime.db.reading() as session:
        rows = (await session.execute(select(ApiKey).order_by(ApiKey.created_at))).scalars()
        return {"items": [_key_out(row) for row in rows], "next_cursor": None}


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_key(body: ApiKeyIn, _: AdminDep, runtime: RuntimeDep) -> dict[str, object]:
    async with runtime.db.transaction() as session:
        row, plain = await create_api_key(session, name=body.name, role=body.role)
    return {**_key_out(row), "key": plain}


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(key_id: str, admin: AdminDep, runtime: RuntimeDep) -> None:
    async with runtime.db.transaction() as session:
        row = await session.get(ApiKey, key_id)
        if row is None:
            raise ApiError(404, "not_found", "no such API key")
        if row.id == admin.id:
            raise ApiError(409, "conflict", "an admin key cannot revoke itself")
        row.revoked_at = row.revoked_at or utcnow()


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def create_user(body: UserIn, _: AdminDep, runtime: RuntimeDep) -> Agent:
    try:
        async with runtime.db.transaction() as session:
            return await create_agent(
                session, email=body.email, role=body.role, password=body.password, name=body.name
            )
    except IntegrityError as exc:
        raise ApiError(409, "conflict", "a user with this e-mail already exists") from exc
