"""Files we send to customers: stored once, referenced from outbound messages as `file:<id>`."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import StoredFile
from crm_core.types import new_id

REF_PREFIX = "file:"


class FileTooLarge(ValueError):
    """The file is above the configured limit; nothing was stored."""


def kind_of(mime_type: str) -> str:
    """The attachment kind channels care about: images render inline, the rest are documents."""
    head = mime_type.split("/", 1)[0].lower()
    return head if head in ("image", "audio", "video") else "document"


def store_file(
    session: AsyncSession, *, name: str, mime_type: str, data: bytes, max_bytes: int
) -> StoredFile:
    """Keep the bytes in the database (every process sees them); refuse what is too large."""
    if len(data) > max_bytes:
        raise FileTooLarge(f"{name!r} is {len(data)} bytes; the limit is {max_bytes}")
    stored = StoredFile(
        id=new_id(),
        name=(name or "file")[:255],
        mime_type=(mime_type or "application/octet-stream")[:120],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    session.add(stored)
    return stored


def attachment_of(stored: StoredFile) -> dict[str, Any]:
    """The entry an outbound `Message.attachments` list holds for a stored file."""
    return {
        "kind": kind_of(stored.mime_type),
        "ref": f"{REF_PREFIX}{stored.id}",
        "name": stored.name,
        "mime_type": stored.mime_type,
        "size": stored.size,
    }


def file_id_of(ref: str) -> str | None:
    """The stored file id behind an attachment ref, or None for a channel's own handle."""
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else None


async def load_file(session: AsyncSession, file_id: str) -> StoredFile | None:
    return await session.get(StoredFile, file_id)
