"""Conversations and messages: lists with filters, one conversation, its messages."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from crm_core.models import Conversation, Message
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, SessionDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import ConversationOut, MessageOut, Page

router = APIRouter(tags=["conversations"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
ChannelName = Literal["telegram", "zalo", "sms", "email", "slack", "webchat"]
StatusName = Literal["bot", "waiting_agent", "agent", "resolved"]
MessageStatusName = Literal["received", "queued", "sent", "delivered", "read", "failed"]


@router.get("/conversations", response_model=Page[ConversationOut])
async def list_conversations(
    _: AgentDep,
    session: SessionDep,
    status: StatusName | None = None,
    channel: ChannelName | None = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Newest first."""
    stmt = select(Conversation)
    if status:
        stmt = stmt.where(Conversation.status == status)
    if channel:
        stmt = stmt.where(Conversation.channel == channel)
    if customer_id:
        stmt = stmt.where(Conversation.customer_id == customer_id)
    return await pagination.fetch(
        session, stmt, Conversation, cursor=cursor, limit=limit, descending=True
    )


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(conversation_id: str, _: AgentDep, session: SessionDep) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", "no such conversation")
    return conversation


@router.get("/conversations/{conversation_id}/messages", response_model=Page[MessageOut])
async def conversation_messages(
    conversation_id: str,
    _: AgentDep,
    session: SessionDep,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """The transcript, oldest first."""
    if await session.get(Conversation, conversation_id) is None:
        raise ApiError(404, "not_found", "no such conversation")
    stmt = select(Message).where(Message.conversation_id == conversation_id)
    return await pagination.fetch(
        session, stmt, Message, cursor=cursor, limit=limit, descending=False
    )


@router.get("/messages", response_model=Page[MessageOut])
async def list_messages(
    _: AgentDep,
    session: SessionDep,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
    direction: Literal["in", "out"] | None = None,
    status: MessageStatusName | None = None,
    channel: ChannelName | None = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Messages across conversations, oldest first, filtered."""
    stmt = select(Message)
    for column, value in (
        (Message.customer_id, customer_id),
        (Message.conversation_id, conversation_id),
        (Message.direction, direction),
        (Message.status, status),
        (Message.channel, channel),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await pagination.fetch(
        session, stmt, Message, cursor=cursor, limit=limit, descending=False
    )
