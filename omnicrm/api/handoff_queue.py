"""The agents' queue and agent routing profiles: `GET /queue`, `GET|PATCH /agents`."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_core.models import Agent
from handoff.queue import load_queue
from omnicrm.api.deps import AgentDep, RuntimeDep, SupervisorDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(tags=["handoff"])
_LABEL = r"^[a-z0-9_-]{1,40}$"


class QueueItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: str
    customer_id: str
    customer_name: str
    channel: str
    language: str | None
    skill: str | None
    reason: str | None
    status: str
    assigned_agent_id: str | None
    assigned_agent_name: str | None
    waiting_since: datetime
    first_response_due: datetime | None
    first_response_at: datetime | None
    breached: bool
    snoozed_until: datetime | None


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: str
    active: bool
    available: bool
    languages: list[str]
    skills: list[str]
    slack_user_id: str | None
    last_assigned_at: datetime | None


class AgentRoutingIn(BaseModel):
    """Only routing fields; role, e-mail and ids are not changed here (extra fields refused)."""

    model_config = ConfigDict(extra="forbid")

    available: bool | None = None
    languages: list[str] | None = Field(default=None, max_length=20)
    skills: list[str] | None = Field(default=None, max_length=20)
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,30}$")


@router.get("/queue", response_model=Page[QueueItemOut])
async def queue(_: AgentDep, runtime: RuntimeDep) -> dict[str, object]:
    """Conversations waiting for an agent (longest wait first), then those agents own."""
    return {"items": await load_queue(runtime.db), "next_cursor": None}


@router.get("/agents", response_model=Page[AgentOut])
async def list_agents(_: SupervisorDep, runtime: RuntimeDep) -> dict[str, object]:
    async with runtime.db.reading() as session:
        agents = (await session.scalars(select(Agent).order_by(func.lower(Agent.email)))).all()
    return {"items": agents, "next_cursor": None}


@router.patch("/agents/{agent_id}", response_model=AgentOut)
async def update_agent(
    agent_id: str, body: AgentRoutingIn, _: SupervisorDep, runtime: RuntimeDep
) -> Agent:
    """Availability, languages, skills and the Slack user an agent answers as."""
    for label in (body.languages or []) + (body.skills or []):
        if not _valid_label(label.lower()):
            raise ApiError(422, "invalid_label", f"{label!r}: use a-z, 0-9, '_' or '-'")
    try:
        async with runtime.db.transaction() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise ApiError(404, "not_found", "no such agent")
            if "available" in body.model_fields_set:
                if body.available is None:
                    raise ApiError(422, "invalid_value", "available must be true or false")
                agent.available = body.available
            if "languages" in body.model_fields_set:
                agent.languages = sorted({label.lower() for label in body.languages or ()})
            if "skills" in body.model_fields_set:
                agent.skills = sorted({label.lower() for label in body.skills or ()})
            if "slack_user_id" in body.model_fields_set:
                agent.slack_user_id = body.slack_user_id
    except IntegrityError as exc:
        raise ApiError(409, "conflict", "that Slack user belongs to another agent") from exc
    return agent


def _valid_label(label: str) -> bool:
    return re.fullmatch(_LABEL, label) is not None
