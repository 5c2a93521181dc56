"""Transcripts: each conversation with its messages in order, for `export transcripts`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Message

MESSAGE_FIELDS = (
    "author_type",
    "author_name",
    "direction",
    "channel",
    "text",
    "status",
    "created_at",
)
CSV_COLUMNS = ("conversation_id", "customer_id", "seq", *MESSAGE_FIELDS)


@dataclass(frozen=True)
class Transcript:
    """One conversation and its messages, oldest first."""

    conversation_id: str
    channel: str
    customer_id: str
    customer_name: str | None
    status: str
    created_at: str
    messages: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "status": self.status,
            "created_at": self.created_at,
            "messages": list(self.messages),
        }

    def csv_rows(self) -> list[list[Any]]:
        """One spreadsheet row per message (a whole transcript in one cell is unreadable)."""
        return [
            [self.conversation_id, self.customer_id, seq, *(m[f] for f in MESSAGE_FIELDS)]
            for seq, m in enumerate(self.messages, start=1)
        ]


def iso(moment: datetime, zone: tzinfo) -> str:
    """ISO-8601 to the second with the zone's offset, as every export prints instants."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


async def messages_of(
    session: AsyncSession, ids: Sequence[str], *, zone: tzinfo
) -> dict[str, list[dict[str, Any]]]:
    """The messages of one page of conversations, grouped, in (created_at, id) order."""
    stmt = (
        select(
            Message.conversation_id,
            Message.author_type,
            Message.author_name,
            Message.direction,
            Message.channel,
            Message.text,
            Message.status,
            Message.created_at,
        )
        .where(Message.conversation_id.in_(ids))
        .order_by(Message.conversation_id, Message.created_at, Message.id)
    )
    grouped: dict[str, list[dict[str, Any]]] = {cid: [] for cid in ids}
    for row in await session.execute(stmt):
        conversation_id, *values = row
        message = dict(zip(MESSAGE_FIELDS, values, strict=True))
        message["created_at"] = iso(message["created_at"], zone)
        grouped[conversation_id].append(message)
    return grouped
