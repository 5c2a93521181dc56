"""Conversation actions (handoff, claim, agent reply, resolve, return to bot) over REST.

They call the same service functions as the console, so ownership rules hold on every path.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from crm_core.auth import Principal
from crm_core.models import Conversation
from crm_core.types import utcnow
from handoff import service
from omnicrm.api.deps import AgentDep, RuntimeDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import ConversationOut, MessageOut

router = APIRouter(prefix="/conversations", tags=["conversations"])


class ActAs(BaseModel):
    agent_id: str | None = Field(
        default=None, max_length=64, description="the console user this API call acts for"
    )


class HandoffIn(ActAs):
    reason: str = Field(default="requested via API", max_length=200)


class ReplyIn(ActAs):
    text: str = Field(min_length=1, max_length=4000, description="'note: ...' stays internal")


class SnoozeIn(ActAs):
    """Either an instant (`until`, ISO-8601 with offset) or a number of minutes from now."""

    until: datetime | None = None
    minutes: int | None = Field(default=None, ge=1, le=30 * 24 * 60)


class ReplyOut(BaseModel):
    note: bool
    message: MessageOut | None


async def _actor(runtime: RuntimeDep, principal: Principal, agent_id: str | None) -> service.Actor:
    try:
        agent = await service.agent_for(runtime.db, agent_id)
    except service.HandoffError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    if agent is not None:
        return service.Actor(type="agent", id=agent.id, name=agent.name, agent_id=agent.id)
    return service.Actor(type=principal.kind, id=principal.id, name=principal.name)


async def _run(call: Awaitable[Conversation]) -> Conversation:
    """Await a service call, turning its refusal into the API's error shape."""
    try:
        return await call
    except service.HandoffError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc


@router.post("/{conversation_id}/handoff", response_model=ConversationOut)
async def handoff(
    conversation_id: str, who: AgentDep, runtime: RuntimeDep, body: HandoffIn | None = None
) -> Conversation:
    """Put a bot conversation in the agents' queue."""
    body = body or HandoffIn()
    actor = await _actor(runtime, who, body.agent_id)
    return await _run(
        service.request_handoff(runtime.db, conversation_id, actor, reason=body.reason)
    )


@router.post("/{conversation_id}/claim", response_model=ConversationOut)
async def claim(
    conversation_id: str, who: AgentDep, runtime: RuntimeDep, body: ActAs | None = None
) -> Conversation:
    """Take ownership; 409 `already_claimed` when another agent was first."""
    actor = await _actor(runtime, who, (body or ActAs()).agent_id)
    return await _run(service.claim(runtime.db, conversation_id, actor))


@router.post(
    "/{conversation_id}/messages", response_model=ReplyOut, status_code=status.HTTP_201_CREATED
)
async def agent_reply(
    conversation_id: str, body: ReplyIn, who: AgentDep, runtime: RuntimeDep
) -> dict[str, object]:
    """Reply to the customer on their channel (taking ownership); `note:` stays internal."""
    actor = await _actor(runtime, who, body.agent_id)
    try:
        result = await service.reply(
            runtime.db, conversation_id, actor, text=body.text, source="api"
        )
    except service.HandoffError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    if result.message is not None:
        runtime.dispatcher.wake()
    return {"note": result.note, "message": result.message}


@router.post("/{conversation_id}/resolve", response_model=ConversationOut)
async def resolve(
    conversation_id: str, who: AgentDep, runtime: RuntimeDep, body: ActAs | None = None
) -> Conversation:
    """Close it; the customer gets a 1-5 satisfaction survey on their channel."""
    actor = await _actor(runtime, who, (body or ActAs()).agent_id)
    conversation = await _run(service.resolve(runtime.db, conversation_id, actor))
    runtime.dispatcher.wake()
    return conversation


@router.post("/{conversation_id}/return-to-bot", response_model=ConversationOut)
async def return_to_bot(
    conversation_id: str, who: AgentDep, runtime: RuntimeDep, body: ActAs | None = None
) -> Conversation:
    actor = await _actor(runtime, who, (body or ActAs()).agent_id)
    return await _run(service.return_to_bot(runtime.db, conversation_id, actor))


@router.post("/{conversation_id}/snooze", response_model=ConversationOut)
async def snooze(
    conversation_id: str, body: SnoozeIn, who: AgentDep, runtime: RuntimeDep
) -> Conversation:
    """Pause SLA escalation and assignment until then; a customer message wakes it early."""
    if (body.until is None) == (body.minutes is None):
        raise ApiError(422, "invalid_snooze", "give exactly one of 'until' or 'minutes'")
    until = body.until or utcnow() + timedelta(minutes=body.minutes or 0)
    actor = await _actor(runtime, who, body.agent_id)
    return await _run(service.snooze(runtime.db, conversation_id, actor, until=until))


@router.post("/{conversation_id}/unsnooze", response_model=ConversationOut)
async def unsnooze(
    conversation_id: str, who: AgentDep, runtime: RuntimeDep, body: ActAs | None = None
) -> Conversation:
    actor = await _actor(runtime, who, (body or ActAs()).agent_id)
    return await _run(service.unsnooze(runtime.db, conversation_id, actor))
