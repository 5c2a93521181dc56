"""Tickets over REST: list with filters, read, open, and PATCH status, severity or assignee."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import tickets, timeline
from crm_core.auth import Principal
from crm_core.models import Agent, Conversation, Customer, Ticket
from crm_core.types import utcnow
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(prefix="/tickets", tags=["tickets"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
Severity = Literal["urgent", "high", "normal", "low"]
Status = Literal["new", "in_progress", "waiting_on_customer", "resolved", "closed"]


class TicketOut(BaseModel):
    id: str
    number: int
    label: str
    customer_id: str
    conversation_id: str | None
    category: str
    severity: str
    status: str
    subject: str
    description: str
    order_id: str | None
    contact: str | None
    assigned_agent_id: str | None
    sla_due_at: datetime | None
    breached: bool
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None


class TicketIn(BaseModel):
    """A ticket an agent opens; without `severity` it is rated from the wording."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(max_length=64)
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=10_000)
    order_id: str | None = Field(default=None, max_length=64)
    contact: str | None = Field(default=None, max_length=320)
    category: str = Field(default="complaint", min_length=1, max_length=40)
    severity: Severity | None = None
    conversation_id: str | None = Field(default=None, max_length=64)


class TicketPatch(BaseModel):
    """Only these change over REST; anything else in the body is a 422 (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    severity: Severity | None = None
    assigned_agent_id: str | None = Field(default=None, max_length=64)


def present(ticket: Ticket, *, now: datetime | None = None) -> dict[str, Any]:
    """The ticket JSON of the public contract."""
    fields = {
        name: getattr(ticket, name) for name in TicketOut.model_fields if hasattr(Ticket, name)
    }
    return {
        **fields,
        "label": tickets.ticket_label(ticket),
        "breached": tickets.is_breached(ticket, now=now),
    }


@router.get("", response_model=Page[TicketOut])
async def list_tickets(
    _: AgentDep,
    session: SessionDep,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    breached: bool | None = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Newest first; every filter given must match. `breached`: open and past the SLA."""
    stmt = select(Ticket)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    if status_ is not None:
        stmt = stmt.where(Ticket.status == status_)
    if severity is not None:
        stmt = stmt.where(Ticket.severity == severity)
    if breached is not None:
        late = and_(
            Ticket.status.in_(tickets.OPEN_STATUSES),
            Ticket.sla_due_at.is_not(None),
            Ticket.sla_due_at < utcnow(),
        )
        stmt = stmt.where(late if breached else or_(~late, Ticket.sla_due_at.is_(None)))
    found = await pagination.fetch(
        session, stmt, Ticket, cursor=cursor, limit=limit, descending=True
    )
    now = utcnow()
    return {
        "items": [present(t, now=now) for t in found["items"]],
        "next_cursor": found["next_cursor"],
    }


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: str, _: AgentDep, session: SessionDep) -> dict[str, Any]:
    return present(await _ticket(session, ticket_id))


@router.post("", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
async def create_ticket(
    body: TicketIn, principal: AgentDep, runtime: RuntimeDep
) -> dict[str, Any]:
    async with runtime.db.transaction() as session:
        customer = await session.get(Customer, body.customer_id)
        if customer is None:
            raise ApiError(422, "unknown_customer", "customer_id names no customer")
        if body.conversation_id is not None:
            conversation = await session.get(Conversation, body.conversation_id)
            if conversation is None or conversation.customer_id != customer.id:
                raise ApiError(
                    422, "unknown_conversation", "conversation_id is not this customer's"
                )
        ticket = await tickets.open_ticket(
            session,
            customer=customer,
            conversation_id=body.conversation_id,
            subject=body.subject,
            description=body.description,
            order_id=body.order_id,
            contact=body.contact,
            category=body.category,
            severity=body.severity,
            sla_hours=tickets.parse_sla_hours(runtime.settings.ticket_sla_hours),
            actor_type=principal.kind,
            actor_id=principal.id,
        )
    return present(ticket)


@router.patch("/{ticket_id}", response_model=TicketOut)
async def update_ticket(
    ticket_id: str, body: TicketPatch, principal: AgentDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Severity (the SLA due time follows), assignee (null unassigns), then status (409 if the
    move is not allowed; the customer is told the moves that matter)."""
    given = body.model_fields_set
    for name in ("status", "severity"):
        if name in given and getattr(body, name) is None:
            raise ApiError(422, "validation_error", f"{name}: must not be null")
    async with runtime.db.transaction() as session:
        ticket = await _ticket(session, ticket_id)
        if body.severity is not None:
            tickets.set_severity(
                session,
                ticket,
                body.severity,
                actor_type=principal.kind,
                actor_id=principal.id,
                sla_hours=tickets.parse_sla_hours(runtime.settings.ticket_sla_hours),
            )
        if "assigned_agent_id" in given:
            await _assign(session, ticket, body.assigned_agent_id, principal)
        if body.status is not None and body.status != ticket.status:
            try:
                await tickets.change_status(
                    session, ticket, body.status, actor_type=principal.kind, actor_id=principal.id
                )
            except tickets.IllegalTicketTransition as exc:
                raise ApiError(409, "illegal_transition", str(exc)) from exc
    runtime.dispatcher.wake()
    return present(ticket)


async def _ticket(session: AsyncSession, ticket_id: str) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise ApiError(404, "not_found", "no such ticket")
    return ticket


async def _assign(
    session: AsyncSession, ticket: Ticket, agent_id: str | None, principal: Principal
) -> None:
    """Give the ticket to an active console user (or to nobody), on the timeline."""
    if agent_id is not None:
        agent = await session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise ApiError(422, "unknown_agent", "assigned_agent_id names no active user")
    if agent_id == ticket.assigned_agent_id:
        return
    ticket.assigned_agent_id = agent_id
    ticket.updated_at = utcnow()
    timeline.record(
        session,
        customer_id=ticket.customer_id,
        conversation_id=ticket.conversation_id,
        kind="ticket_assigned",
        actor_type=principal.kind,
        actor_id=principal.id,
        data={"ticket_id": ticket.id, "label": tickets.ticket_label(ticket), "agent_id": agent_id},
    )
