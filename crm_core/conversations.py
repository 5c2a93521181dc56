"""Conversations and their messages: open or continue, move status with a timeline event, log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.enums import ConversationStatus, Direction, MessageStatus
from crm_core.models import Conversation, Identity, Message
from crm_core.types import new_id, utcnow


async def threaded_conversation(
    session: AsyncSession, *, channel: str, refs: list[str]
) -> Conversation | None:
    """The open conversation holding a message that `refs` (e-mail References) point at."""
    if not refs:
        return None
    stmt = (
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Message.channel == channel,
            Message.external_id.in_(refs),
            Conversation.status != ConversationStatus.RESOLVED.value,
        )
        .order_by(Message.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def open_or_continue(
    session: AsyncSession,
    *,
    customer_id: str,
    identity: Identity,
    subject: str | None = None,
    thread: Conversation | None = None,
    new_thread: bool = False,
) -> tuple[Conversation, bool]:
    """The identity's open conversation (or the given e-mail thread), else a new one.

    `new_thread` starts a fresh conversation even when one is open: a new e-mail without
    references is a new topic.
    """
    found = thread
    if found is None and not new_thread:
        stmt = (
            select(Conversation)
            .where(
                Conversation.identity_id == identity.id,
                Conversation.status != ConversationStatus.RESOLVED.value,
            )
            .order_by(Conversation.created_at.desc())
            .limit(1)
        )
        found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None:
        if found.customer_id != customer_id:
            found.customer_id = customer_id
        return found, False
    conversation = Conversation(
        id=new_id(),
        customer_id=customer_id,
        identity_id=identity.id,
        channel=identity.channel,
        status=ConversationStatus.BOT.value,
        subject=subject[:300] if subject else None,
        bot_state={},
    )
    session.add(conversation)
    timeline.record(
        session,
        customer_id=customer_id,
        conversation_id=conversation.id,
        kind="conversation_opened",
        actor_type="customer",
        data={"channel": identity.channel},
    )
    return conversation, True


def move(
    session: AsyncSession,
    conversation: Conversation,
    target: ConversationStatus,
    *,
    actor_type: str,
    actor_id: str | None = None,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Apply a legal status transition and put it on the timeline (IllegalTransition if not)."""
    current = ConversationStatus(conversation.status)
    conversation.status = current.transition(target).value
    if target is ConversationStatus.RESOLVED:
        conversation.resolved_at = utcnow()
    data: dict[str, Any] = {**(extra or {}), "from": current.value, "to": target.value}
    if reason:
        data["reason"] = reason
    timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        kind="status_changed",
        actor_type=actor_type,
        actor_id=actor_id,
        data=data,
    )


def add_outbound(
    session: AsyncSession,
    conversation: Conversation,
    *,
    text: str,
    author_type: str,
    author_id: str | None = None,
    author_name: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    """Queue a reply: the row itself is the outbox entry the dispatcher sends.

    `attachments` are stored files (`crm_core.files.attachment_of`); `meta` says where the
    reply came from (e.g. `{"source": "slack"}`, so the Slack mirror does not echo it).
    """
    now = utcnow()
    message = Message(
        id=new_id(),
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        direction=Direction.OUT.value,
        author_type=author_type,
        author_id=author_id,
        author_name=author_name,
        text=text,
        attachments=list(attachments or ()),
        meta=dict(meta or {}),
        status=MessageStatus.QUEUED.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    conversation.last_message_at = now
    timeline.record(
        session,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        kind="reply_queued",
        actor_type=author_type,
        actor_id=author_id,
        data={"message_id": message.id, "channel": conversation.channel},
    )
    return message


def set_opt_out(
    session: AsyncSession,
    identity: Identity,
    *,
    opted_out: bool,
    source: str,
    actor_type: str,
    conversation_id: str | None = None,
) -> bool:
    """Record an opt-out (or opt-in) on this channel handle; False when nothing changed."""
    if (identity.opted_out_at is not None) == opted_out:
        return False
    identity.opted_out_at = utcnow() if opted_out else None
    identity.opt_out_source = source if opted_out else None
    timeline.record(
        session,
        customer_id=identity.customer_id,
        conversation_id=conversation_id,
        kind="opted_out" if opted_out else "opted_in",
        actor_type=actor_type,
        data={"channel": identity.channel, "source": source},
    )
    return True
