"""What a channel needs to answer well: the thread, the last customer message, the window."""

from __future__ import annotations

from sqlalchemy import select

from channels.base import ReplyContext
from crm_core.db import Database
from crm_core.enums import Direction
from crm_core.models import Message


async def reply_context(
    db: Database, message: Message, *, subject: str | None, customer_name: str | None
) -> ReplyContext:
    """Built per send: the last inbound message and replies since (subject comes with the row)."""
    async with db.reading() as session:
        last_in = (
            await session.execute(
                select(Message)
                .where(
                    Message.conversation_id == message.conversation_id,
                    Message.direction == Direction.IN.value,
                )
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        since = select(Message.meta).where(
            Message.conversation_id == message.conversation_id,
            Message.direction == Direction.OUT.value,
            Message.status.in_(("sent", "delivered", "read")),
        )
        if last_in is not None:
            since = since.where(Message.created_at > last_in.created_at)
        # A reply split into parts counts each part (Zalo's 8-per-window quota does).
        sent_since = sum(_parts(meta) for meta in (await session.execute(since)).scalars())
    refs = tuple(last_in.meta.get("references", [])) if last_in is not None else ()
    return ReplyContext(
        last_inbound_external_id=last_in.external_id if last_in else None,
        last_inbound_at=last_in.created_at if last_in else None,
        sent_since_last_inbound=sent_since,
        thread_refs=refs,
        subject=subject,
        customer_name=customer_name,
    )


def _parts(meta: dict[str, object]) -> int:
    parts = meta.get("zalo_message_ids") or meta.get("parts")
    return len(parts) if isinstance(parts, list) and parts else 1
