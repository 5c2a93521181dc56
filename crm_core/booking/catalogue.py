"""The service catalogue as the bot sees it: find a service by key, name or alias, typed with or
without Vietnamese diacritics."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Service, StaffMember
from crm_core.text import fold


def names_of(service: Service) -> list[str]:
    """Every folded way to name a service: key, both names, aliases."""
    raw = [service.key, service.name_vi, service.name_en, *map(str, service.aliases or [])]
    return list(dict.fromkeys(fold(name) for name in raw if name))


async def active_services(session: AsyncSession) -> list[Service]:
    stmt = select(Service).where(Service.active).order_by(Service.name_en)
    return list((await session.execute(stmt)).scalars())


async def find_service(session: AsyncSession, text: str) -> Service | None:
    """The active service whose key, name or alias equals the text or occurs in it (the longest
    match wins, so "cham soc da mat" beats "da")."""
    wanted = fold(text)
    if not wanted:
        return None
    best: tuple[int, Service] | None = None
    padded = f" {wanted} "
    for service in await active_services(session):
        for name in names_of(service):
            matches = name == wanted or f" {name} " in padded
            if matches and (best is None or len(name) > best[0]):
                best = (len(name), service)
    return best[1] if best else None


async def staff_for(session: AsyncSession, service_key: str) -> list[StaffMember]:
    """Active staff who give the service, in the order they were added."""
    stmt = select(StaffMember).where(StaffMember.active).order_by(StaffMember.created_at)
    return [m for m in (await session.execute(stmt)).scalars() if service_key in m.services]
