"""Exports of conversations: one row each, or whole transcripts, streamed page by page.

Each page is read in its own short session: on SQLite a session holds the only connection
(and its write lock), so a long download must not starve the webhooks and the worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, tzinfo

from crm_core.db import Database
from crm_core.reporting import export_query
from crm_core.reporting.export_figures import figures
from crm_core.reporting.export_query import Cursor, ExportQuery
from crm_core.reporting.export_rows import ConversationRow, build_row
from crm_core.reporting.export_transcripts import Transcript, messages_of

ROWS_PAGE = 500
TRANSCRIPTS_PAGE = 100

__all__ = ["ConversationRow", "ExportQuery", "Transcript", "conversation_rows", "transcripts"]


async def count(db: Database, query: ExportQuery) -> int:
    """How many conversations match, read before streaming (audit and progress)."""
    async with db.reading() as session:
        return await export_query.count(session, query)


async def conversation_rows(
    db: Database, query: ExportQuery, *, zone: tzinfo = UTC, page_size: int = ROWS_PAGE
) -> AsyncIterator[ConversationRow]:
    """Rows in (created_at, id) order; memory holds one page at a time."""
    after: Cursor | None = None
    while True:
        async with db.reading() as session:
            page = await export_query.page(session, query, after=after, size=page_size)
            found = await figures(session, [row[0].id for row in page])
        for conversation, name, tags, agent in page:
            yield build_row(
                conversation,
                customer_name=name,
                customer_tags=tags,
                agent_name=agent,
                figures=found,
                zone=zone,
            )
        if len(page) < page_size:
            return
        after = export_query.cursor_of(page[-1][0])


async def transcripts(
    db: Database, query: ExportQuery, *, zone: tzinfo = UTC, page_size: int = TRANSCRIPTS_PAGE
) -> AsyncIterator[Transcript]:
    """Conversations with their messages in order, one page of conversations at a time."""
    after: Cursor | None = None
    while True:
        async with db.reading() as session:
            page = await export_query.page(session, query, after=after, size=page_size)
            messages = await messages_of(session, [row[0].id for row in page], zone=zone)
        for conversation, name, _tags, _agent in page:
            yield Transcript(
                conversation_id=conversation.id,
                channel=conversation.channel,
                customer_id=conversation.customer_id,
                customer_name=name,
                status=conversation.status,
                created_at=conversation.created_at.astimezone(zone).isoformat(timespec="seconds"),
                messages=tuple(messages[conversation.id]),
            )
        if len(page) < page_size:
            return
        after = export_query.cursor_of(page[-1][0])
