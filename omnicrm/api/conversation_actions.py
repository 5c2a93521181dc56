"""Conversation actions (handoff, claim, agent reply, resolve, return to bot) over REST.

They call the same service functions as the console, so ownership rules hold on every path.
"""

from __future__ import annotations

from collections.abc import Awaitable

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from crm_core.auth import Principal
from crm_core.models import Conversation
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
        result = await service.reply(runtime.db, conversation_id, actor, text=body.text)
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
