"""The customer's whole history across channels, newest first, a page at a time.

Messages and events are two tables; each page reads at most `limit + 1` rows of each below the
cursor (the last entry shown, as time and key), merges them, and keeps the newest `limit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Agent, Message, TimelineEvent
from handoff.console.timeline import Entry, Words, merge

PAGE_SIZE = 50
ECHO_KINDS = ("message_received", "reply_queued")  # the message itself is on the page


@dataclass(frozen=True)
class Cursor:
    """Entries strictly older than (`at`, `key`) come next."""

    at: datetime
    key: str

    def encode(self) -> str:
        return f"{self.at.isoformat()}~{self.key}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        if not value or "~" not in value:
            return None
        at, _, key = value.partition("~")
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            return None
        if moment.tzinfo is None or key[:1] not in ("0", "1") or len(key) > 40:
            return None
        return cls(moment, key)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[Entry]
    next_cursor: str | None


async def load_timeline(
    session: AsyncSession,
    customer_id: str,
    *,
    customer_name: str,
    words: Words,
    before: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> TimelinePage:
    """One page of the customer's merged timeline, newest first."""
    messages_q = select(Message).where(Message.customer_id == customer_id)
    events_q = select(TimelineEvent).where(
        TimelineEvent.customer_id == customer_id, TimelineEvent.kind.not_in(ECHO_KINDS)
    )
    if before is not None:
        messages_q = messages_q.where(_older(Message, before, own_prefix="0"))
        events_q = events_q.where(_older(TimelineEvent, before, own_prefix="1"))
    messages = (
        await session.scalars(
            messages_q.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit + 1)
        )
    ).all()
    events = (
        await session.scalars(
            events_q.order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc()).limit(
                limit + 1
            )
        )
    ).all()
    names = await _agent_names(session, events)
    named = Words(t=words.t, tz=words.tz, agent_names={**words.agent_names, **names})
    merged = merge(messages, events, customer_name=customer_name, words=named)
    newest = list(reversed(merged))
    page = newest[:limit]
    more = len(newest) > limit or len(messages) > limit or len(events) > limit
    cursor = Cursor(page[-1].at, page[-1].key).encode() if more and page else None
    return TimelinePage(page, cursor)


def _older(
    model: type[Message] | type[TimelineEvent], before: Cursor, *, own_prefix: str
) -> ColumnElement[bool]:
    """Rows whose (created_at, key) sort below the cursor; a message's key is '0'+id, an
    event's '1'+id, so at the same instant messages come before events."""
    same_instant = model.created_at == before.at
    if before.key[0] == own_prefix:
        tie = and_(same_instant, model.id < before.key[1:])
    elif own_prefix == "0":
        tie = same_instant  # every message at that instant sorts below an event
    else:
        return model.created_at < before.at
    return or_(model.created_at < before.at, tie)


async def _agent_names(session: AsyncSession, events: Sequence[TimelineEvent]) -> dict[str, str]:
    ids = {e.actor_id for e in events if e.actor_type == "agent" and e.actor_id}
    ids |= {str(e.data["agent_id"]) for e in events if e.data.get("agent_id")}
    if not ids:
        return {}
    rows = await session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids)))
    return {agent_id: name for agent_id, name in rows.all()}
