"""Live updates as Server-Sent Events, by polling a cheap fingerprint of the database.

Polling the database (not an in-process signal) keeps it right with many web processes and
workers. Each stream holds one fingerprint, so memory is bounded; a stream ends after
`MAX_STREAM_S` (the browser's EventSource reconnects by itself) or when the client goes away.
The fingerprint is also the event id, so a reconnecting browser (Last-Event-ID) or a freshly
rendered page (`since=`) is told at once about a change it missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Conversation, Message, TimelineEvent
from handoff.console.web import Console

POLL_S = 1.0
HEARTBEAT_S = 15.0
MAX_STREAM_S = 600.0
MAX_STREAMS = 200  # per process; beyond it the browser retries later
HUMAN = ("waiting_agent", "agent")
STATUSES = ("bot", "waiting_agent", "agent", "resolved")
# Delivery moves forward (queued → sent → delivered → read, or failed), so a weighted sum
# changes whenever a message's status does.
DELIVERY_RANK = {"queued": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5}


def _digest(values: tuple[object, ...]) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:20]


async def conversation_fingerprint(session: AsyncSession, conversation_id: str) -> str | None:
    """Changes when a message arrives or changes delivery status, an event is recorded,
    or the status, owner or snooze changes; None when there is no such conversation."""
    mine_m = Message.conversation_id == conversation_id
    mine_e = TimelineEvent.conversation_id == conversation_id
    rank = case(DELIVERY_RANK, value=Message.status, else_=0)
    row = (
        await session.execute(
            select(
                Conversation.status,
                Conversation.assigned_agent_id,
                Conversation.snoozed_until,
                Conversation.updated_at,
                select(func.count(Message.id)).where(mine_m).scalar_subquery(),
                select(func.max(Message.created_at)).where(mine_m).scalar_subquery(),
                select(func.coalesce(func.sum(rank), 0)).where(mine_m).scalar_subquery(),
                select(func.count(TimelineEvent.id)).where(mine_e).scalar_subquery(),
                select(func.max(TimelineEvent.created_at)).where(mine_e).scalar_subquery(),
            ).where(Conversation.id == conversation_id)
        )
    ).one_or_none()
    return None if row is None else _digest(tuple(row))


async def queue_fingerprint(session: AsyncSession) -> str:
    """Changes when a conversation enters, leaves or moves in the queue (each such change
    touches `updated_at`; the per-status maxima use the (status, updated_at) index)."""
    latest = [
        select(func.max(Conversation.updated_at))
        .where(Conversation.status == status)
        .scalar_subquery()
        for status in STATUSES
    ]
    waiting = (
        select(func.count(Conversation.id)).where(Conversation.status.in_(HUMAN)).scalar_subquery()
    )
    row = (await session.execute(select(waiting, *latest))).one()
    return _digest(tuple(row))


def sse(event: str, event_id: str, data: dict[str, object]) -> bytes:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def watch(
    fingerprint: Callable[[], Awaitable[str | None]],
    *,
    event: str,
    data: dict[str, object],
    seen: str | None,
    still_allowed: Callable[[], bool],
    poll_s: float = POLL_S,
    heartbeat_s: float = HEARTBEAT_S,
    max_s: float = MAX_STREAM_S,
) -> AsyncIterator[bytes]:
    """Yield an event each time the fingerprint changes, a comment when quiet for a while."""
    loop = asyncio.get_running_loop()
    started = quiet_since = loop.time()
    yield b"retry: 3000\n: connected\n\n"
    last = seen
    while loop.time() - started < max_s:
        current = await fingerprint()
        if current is None:
            return  # the conversation is gone
        if current != last:
            if last is not None:
                yield sse(event, current, data)
                quiet_since = loop.time()
            last = current
        elif loop.time() - quiet_since >= heartbeat_s:
            if not still_allowed():
                return  # the session expired while the page stayed open
            yield b": heartbeat\n\n"
            quiet_since = loop.time()
        await asyncio.sleep(poll_s)


class Streams:
    """Counts open streams so one process never holds more than `limit`."""

    def __init__(self, limit: int = MAX_STREAMS) -> None:
        self.limit = limit
        self.open = 0

    async def guard(self, inner: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self.open += 1
        try:
            async for chunk in inner:
                yield chunk
        finally:
            self.open -= 1


STREAMS = Streams()  # the limit is per process, whatever number of apps it builds


def live_router(console: Console, *, poll_s: float = POLL_S) -> APIRouter:
    router = APIRouter()
    streams = STREAMS

    @router.get("/events")
    async def events(
        request: Request,
        conversation: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        """`?conversation=ID`: that conversation's changes; without it, the queue's."""
        who = await console.current(request)
        if who is None:
            return PlainTextResponse("log in first", status_code=401)
        if streams.open >= streams.limit:
            return PlainTextResponse("busy", status_code=503, headers={"Retry-After": "10"})
        db = console.get_db(request)

        async def fingerprint() -> str | None:
            async with db.reading() as session:
                if conversation is None:
                    return await queue_fingerprint(session)
                return await conversation_fingerprint(session, conversation)

        if conversation is not None and await fingerprint() is None:
            return PlainTextResponse("no such conversation", status_code=404)
        seen = request.headers.get("last-event-id") or since
        body = watch(
            fingerprint,
            event="conversation" if conversation else "queue",
            data={"conversation": conversation} if conversation else {},
            seen=seen,
            still_allowed=lambda: console.signer.read(who.cookie) is not None,
            poll_s=poll_s,
        )
        return StreamingResponse(
            streams.guard(body),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
