"""One page of the conversation list, newest activity first, with what each row shows.

Search and tag filters first probe a window of the next `WINDOW` conversations one by one
(cheap index look-ups, enough when matches are common, as most searches are); only when the
window holds less than a page do they fall back to building the whole set of matches — on
SQLite a scan of every message, on PostgreSQL the trigram index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Agent, Conversation, Customer, Message
from crm_core.reporting.conversation_search import (
    ConversationFilter,
    after,
    conditions,
    encode_cursor,
    handed_off,
    message_matches,
    ordered,
)

WINDOW = 1000
# For this transaction only. A cached generic plan cannot see the search pattern or how narrow
# the cursor and window bounds are (re-planned with the values, PostgreSQL keeps to the index
# walk); and a page stops after 51 rows, so JIT compiling for the planner's whole-table
# estimate costs ~250 ms to save nothing.
POSTGRES_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('jit', 'off', true)"
)
SNIPPET = 160


@dataclass(frozen=True)
class ListRow:
    """One line of the list: the conversation and what the page shows beside it."""

    conversation: Conversation
    customer_name: str | None
    agent_name: str | None
    handed_off: bool
    snippet: str


@dataclass(frozen=True)
class ListPage:
    rows: list[ListRow]
    next_cursor: str | None


async def list_page(
    session: AsyncSession,
    flt: ConversationFilter,
    *,
    cursor: str | None,
    limit: int,
    window: int = WINDOW,
) -> ListPage:
    """One page of the list; the details of its rows come from a few queries over its ids."""
    found = await _find(session, flt, cursor=cursor, limit=limit, window=window)
    conversations, more = found[:limit], len(found) > limit
    ids = [conversation.id for conversation in conversations]
    names = await _names(session, ids)
    humans = await _handed_off_among(session, ids)
    snippets = await _snippets(session, ids, flt.query)
    rows = [
        ListRow(
            conversation=conversation,
            customer_name=names.get(conversation.id, (None, None))[0],
            agent_name=names.get(conversation.id, (None, None))[1],
            handed_off=conversation.id in humans,
            snippet=snippets.get(conversation.id, ""),
        )
        for conversation in conversations
    ]
    last = conversations[-1] if more else None
    return ListPage(rows, encode_cursor(last.updated_at, last.id) if last else None)


async def _find(
    session: AsyncSession, flt: ConversationFilter, *, cursor: str | None, limit: int, window: int
) -> list[Conversation]:
    """Up to `limit + 1` conversations after the cursor (one more tells a next page exists)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(POSTGRES_SETTINGS)
    start = [after(cursor)] if cursor else []
    if flt.query or flt.tag:
        end = await _window_end(session, start, window)
        probed = select(Conversation).where(*start, *conditions(flt, dialect=dialect, probe=True))
        if end is not None:
            probed = probed.where(end)
        found = list((await session.scalars(ordered(probed).limit(limit + 1))).all())
        if len(found) > limit or end is None:
            return found
    stmt = select(Conversation).where(*start, *conditions(flt, dialect=dialect))
    return list((await session.scalars(ordered(stmt).limit(limit + 1))).all())


async def _window_end(
    session: AsyncSession, start: list[ColumnElement[bool]], window: int
) -> ColumnElement[bool] | None:
    """The condition that keeps rows inside the window; None when fewer rows remain."""
    edge = (
        await session.execute(
            ordered(select(Conversation.updated_at, Conversation.id).where(*start))
            .offset(window)
            .limit(1)
        )
    ).first()
    if edge is None:
        return None
    updated, row_id = Conversation.updated_at, Conversation.id
    return and_(updated >= edge[0], or_(updated > edge[0], row_id > edge[1]))


async def _names(session: AsyncSession, ids: list[str]) -> dict[str, tuple[str | None, ...]]:
    stmt = (
        select(Conversation.id, Customer.name, Agent.name)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
        .where(Conversation.id.in_(ids))
    )
    return {row[0]: (row[1], row[2]) for row in await session.execute(stmt)}


async def _handed_off_among(session: AsyncSession, ids: list[str]) -> set[str]:
    stmt = select(Conversation.id).where(Conversation.id.in_(ids), handed_off())
    return set((await session.scalars(stmt)).all())


async def _snippets(session: AsyncSession, ids: list[str], query: str | None) -> dict[str, str]:
    """The latest message of each conversation; with a search, the latest one that matched."""

    def latest(*extra: ColumnElement[bool]) -> Any:
        return (
            select(Message.text)
            .where(Message.conversation_id == Conversation.id, *extra)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
            .correlate(Conversation)
            .scalar_subquery()
        )

    shown = func.coalesce(latest(message_matches(query)), latest()) if query else latest()
    stmt = select(Conversation.id, shown).where(Conversation.id.in_(ids))
    return {cid: _short(text or "") for cid, text in await session.execute(stmt)}


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1].rstrip() + "…"
