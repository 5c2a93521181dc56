"""Keyset pagination: an opaque cursor of (created_at, id), stable under inserts."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from omnicrm.api.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; a tampered cursor is a 400, not a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, row_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        when = datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from exc
    if when.tzinfo is None:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued")
    return when, row_id


def page(
    stmt: Select[Any], model: Any, *, cursor: str | None, limit: int, descending: bool
) -> Select[Any]:
    """Apply cursor, order and limit (+1, to know whether a next page exists)."""
    if cursor:
        when, row_id = decode(cursor)
        if descending:
            stmt = stmt.where(
                or_(model.created_at < when, and_(model.created_at == when, model.id < row_id))
            )
        else:
            stmt = stmt.where(
                or_(model.created_at > when, and_(model.created_at == when, model.id > row_id))
            )
    order = (
        (model.created_at.desc(), model.id.desc())
        if descending
        else (model.created_at.asc(), model.id.asc())
    )
    return stmt.order_by(*order).limit(limit + 1)


def split(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    """The page's rows and the cursor of the next page (None on the last)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode(last.created_at, last.id)


async def fetch(
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    *,
    cursor: str | None,
    limit: int,
    descending: bool,
) -> dict[str, Any]:
    """Run a paged query and return the list envelope `{"items", "next_cursor"}`."""
    paged = page(stmt, model, cursor=cursor, limit=limit, descending=descending)
    rows, next_cursor = split(list((await session.execute(paged)).scalars()), limit)
    return {"items": rows, "next_cursor": next_cursor}
