"""Conversations and messages: lists with filters, one conversation, its messages."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from crm_core.audit import transcript_viewed
from crm_core.models import Conversation, Message
from crm_core.reporting import conversation_search as search
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import ConversationOut, MessageOut, Page

router = APIRouter(tags=["conversations"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
ChannelName = Literal["telegram", "zalo", "sms", "email", "slack", "webchat"]
StatusName = Literal["bot", "waiting_agent", "agent", "resolved"]
SeverityName = Literal["urgent", "high", "normal", "low"]
MessageStatusName = Literal["received", "queued", "sent", "delivered", "read", "failed"]


@router.get("/conversations", response_model=Page[ConversationOut])
async def list_conversations(
    _: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: StatusName | None = None,
    channel: ChannelName | None = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=search.MAX_QUERY)] = None,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    csat: Annotated[int | None, Query(ge=1, le=5)] = None,
    csat_min: Annotated[int | None, Query(ge=1, le=5)] = None,
    severity: SeverityName | None = None,
    handled: Literal["bot", "agent"] | None = None,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Newest first. `q` searches the messages without Vietnamese marks ("dat lich" finds
    "Đặt lịch") and the customer's name; `from`/`to` are local days of last activity;
    `handled=bot` keeps conversations no person ever took over."""
    asked = {
        "status": status,
        "channel": channel,
        "customer": customer_id,
        "q": q,
        "agent": agent_id,
        "tag": tag,
        "csat": str(csat) if csat else None,
        "csat_min": str(csat_min) if csat_min else None,
        "severity": severity,
        "handled": handled,
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
    }
    try:
        wanted = search.parse_filter(asked, timezone=runtime.settings.timezone)
    except search.FilterError as error:
        raise ApiError(422, "validation_error", str(error)) from None
    dialect = session.get_bind().dialect.name
    stmt = select(Conversation).where(*search.conditions(wanted, dialect=dialect))
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
    principal: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """The transcript, oldest first; every read is audit-logged (who, which conversation)."""
    # Audit before `session` is first used: SQLite has a single connection to share.
    async with runtime.db.transaction() as audit_session:
        if await audit_session.get(Conversation, conversation_id) is None:
            raise ApiError(404, "not_found", "no such conversation")
        transcript_viewed(
            audit_session,
            actor_type=principal.kind,
            actor_id=principal.id,
            conversation_id=conversation_id,
            via="api",
        )
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
