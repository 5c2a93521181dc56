"""Shared FastAPI dependencies: the runtime, the database session and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.auth import Principal, authenticate_api_key
from crm_core.enums import Role
from omnicrm.api.errors import ApiError
from omnicrm.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A read session for the request; it is closed (connection returned) afterwards."""
    async with runtime.db.reading() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send `Authorization: Bearer <api key>`")
    return token.strip()


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose role is at least `role`."""

    async def _check(request: Request, runtime: RuntimeDep) -> Principal:
        token = _bearer(request)
        async with runtime.db.reading() as session:
            principal = await authenticate_api_key(session, token)
        if principal is None:
            raise ApiError(401, "unauthorized", "the API key is not valid")
        if not principal.role.allows(role):
            raise ApiError(403, "forbidden", f"this needs the {role.value} role or higher")
        return principal

    return _check


AgentDep = Annotated[Principal, Depends(require(Role.AGENT))]
SupervisorDep = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
