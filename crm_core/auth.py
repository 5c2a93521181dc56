"""API keys (stored as SHA-256, compared in constant time) and console passwords (argon2)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.enums import Role
from crm_core.models import Agent, ApiKey

KEY_PREFIX = "omk"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key or a console user, with a role."""

    id: str
    name: str
    role: Role
    kind: str  # "api_key" or "agent"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(session: AsyncSession, *, name: str, role: Role) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once and never stored."""
    prefix = secrets.token_hex(6)
    plain = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=name, role=role.value, prefix=prefix, key_hash=_digest(plain))
    session.add(row)
    await session.flush()
    return row, plain


async def authenticate_api_key(session: AsyncSession, plain: str) -> Principal | None:
    """The key's principal, or None; the lookup is by prefix, the check in constant time."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    stmt = select(ApiKey).where(ApiKey.prefix == parts[1], ApiKey.revoked_at.is_(None))
    row = (await session.execute(stmt)).scalar_one_or_none()
    expected = row.key_hash if row is not None else _digest("no-such-key")
    if not hmac.compare_digest(expected, _digest(plain)) or row is None:
        return None
    return Principal(id=row.id, name=row.name, role=Role(row.role), kind="api_key")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash never matches."""
    if not password_hash:
        _hasher.hash(password)  # same cost either way, so timing says nothing
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_agent(
    session: AsyncSession, *, email: str, role: Role, password: str, name: str | None = None
) -> Agent:
    """A console login; the e-mail is the unique handle (lower-cased)."""
    address = email.strip().lower()
    agent = Agent(
        email=address,
        name=name or address.split("@")[0],
        role=role.value,
        password_hash=hash_password(password),
    )
    session.add(agent)
    await session.flush()
    return agent


async def authenticate_agent(session: AsyncSession, email: str, password: str) -> Agent | None:
    stmt = select(Agent).where(Agent.email == email.strip().lower(), Agent.active)
    agent = (await session.execute(stmt)).scalar_one_or_none()
    if not verify_password(agent.password_hash if agent else None, password) or agent is None:
        return None
    return agent
