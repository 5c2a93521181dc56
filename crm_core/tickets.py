"""Tickets: open one with a unique number and an SLA, move it along its states, tell the customer.

Numbers are `max + 1` inserted inside a savepoint: two transactions that pick the same number
collide on the unique index, and the loser rolls back only its savepoint and takes the next one.
That needs no counter table and behaves the same on SQLite (one writer) and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.models import Customer, Purchase, Ticket
from crm_core.tickets_notify import tell_customer, ticket_label
from crm_core.tickets_severity import SEVERITIES, is_severity, severity_of
from crm_core.types import new_id, utcnow

__all__ = [
    "DEFAULT_SLA_HOURS",
    "OPEN_STATUSES",
    "STATUSES",
    "IllegalTicketTransition",
    "change_status",
    "customer_standing",
    "is_breached",
    "open_ticket",
    "parse_sla_hours",
    "set_severity",
    "severity_of",
    "ticket_label",
]

DEFAULT_SLA_HOURS: dict[str, float] = {"urgent": 2.0, "high": 8.0, "normal": 24.0, "low": 72.0}
STATUSES = ("new", "in_progress", "waiting_on_customer", "resolved", "closed")
OPEN_STATUSES = ("new", "in_progress", "waiting_on_customer")
_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"in_progress"}),
    "in_progress": frozenset({"waiting_on_customer", "resolved"}),
    "waiting_on_customer": frozenset({"in_progress"}),
    "resolved": frozenset({"closed", "in_progress"}),  # in_progress again: a reopen
    "closed": frozenset(),
}
_NUMBER_ATTEMPTS = 50


class IllegalTicketTransition(ValueError):
    """A ticket was asked to move where its state machine does not allow (API: 409)."""


def parse_sla_hours(spec: str | Mapping[str, float] | None) -> dict[str, float]:
    """ "urgent=2, high=8, normal=24, low=72" (or a mapping) → hours per severity.

    Severities left out keep their default; an unknown severity or a non-positive number is a
    ValueError, so a typo in OMNICRM_TICKET_SLA_HOURS is loud rather than silently 24 h.
    """
    hours = dict(DEFAULT_SLA_HOURS)
    if spec is None:
        return hours
    pairs: list[tuple[str, Any]]
    if isinstance(spec, str):
        pairs = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"ticket SLA {part!r}: expected severity=hours")
            pairs.append((name.strip().lower(), value.strip()))
    else:
        pairs = [(str(k).lower(), v) for k, v in spec.items()]
    for name, value in pairs:
        if name not in DEFAULT_SLA_HOURS:
            known = ", ".join(SEVERITIES)
            raise ValueError(f"ticket SLA: unknown severity {name!r} (use {known})")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ticket SLA {name}: {value!r} is not a number of hours") from exc
        if number <= 0:
            raise ValueError(f"ticket SLA {name}: hours must be positive")
        hours[name] = number
    return hours


def is_breached(ticket: Ticket, *, now: datetime | None = None) -> bool:
    """Still open and past its SLA due time."""
    return (
        ticket.status in OPEN_STATUSES
        and ticket.sla_due_at is not None
        and ticket.sla_due_at < (now or utcnow())
    )


async def customer_standing(session: AsyncSession, customer_id: str) -> tuple[int, int]:
    """(lifetime value, tickets still open) — what severity_of weighs besides the wording."""
    spent = await session.scalar(
        select(func.coalesce(func.sum(Purchase.amount), 0)).where(
            Purchase.customer_id == customer_id
        )
    )
    open_count = await session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
    )
    return int(spent or 0), int(open_count or 0)


async def open_ticket(
    session: AsyncSession,
    *,
    customer: Customer,
    conversation_id: str | None,
    subject: str,
    description: str,
    order_id: str | None = None,
    contact: str | None = None,
    text: str = "",
    category: str = "complaint",
    sla_hours: Mapping[str, float] | None = None,
    now: datetime | None = None,
    severity: str | None = None,
    actor_type: str = "bot",
    actor_id: str | None = None,
) -> Ticket:
    """Create a ticket in the caller's transaction: next number, severity, SLA, timeline event.

    `text` is the customer's wording to rate (default: subject and description); `severity`
    overrides the rating (an agent who already knows). The caller acknowledges to the customer
    (the intake dialogue words it with the number and SLA), so nothing is sent from here.
    """
    created = now or utcnow()
    if severity is None:
        lifetime, open_count = await customer_standing(session, customer.id)
        wording = text or f"{subject}\n{description}"
        severity = severity_of(wording, lifetime_value=lifetime, open_tickets=open_count)
    elif not is_severity(severity):
        raise ValueError(f"unknown severity {severity!r}")
    hours = parse_sla_hours(sla_hours)
    fields = {
        "customer_id": customer.id,
        "conversation_id": conversation_id,
        "category": category[:40],
        "severity": severity,
        "status": "new",
        "subject": subject[:300],
        "description": description,
        "order_id": order_id[:64] if order_id else None,
        "contact": contact[:320] if contact else None,
        "sla_due_at": created + timedelta(hours=hours[severity]),
        "created_at": created,
        "updated_at": created,
    }
    ticket = await _insert_numbered(session, fields)
    timeline.record(
        session,
        customer_id=customer.id,
        conversation_id=conversation_id,
        kind="ticket_opened",
        actor_type=actor_type,
        actor_id=actor_id,
        data={
            "ticket_id": ticket.id,
            "number": ticket.number,
            "label": ticket_label(ticket),
            "category": ticket.category,
            "severity": severity,
            "sla_hours": hours[severity],
            "sla_due_at": ticket.sla_due_at.isoformat() if ticket.sla_due_at else None,
            "order_id": ticket.order_id,
        },
    )
    return ticket


async def _insert_numbered(session: AsyncSession, fields: dict[str, Any]) -> Ticket:
    """Insert with number = max + 1, retrying in a fresh savepoint when another writer won."""
    for _ in range(_NUMBER_ATTEMPTS):
        number = (await session.scalar(select(func.max(Ticket.number)))) or 0
        ticket = Ticket(id=new_id(), number=number + 1, **fields)
        try:
            async with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            continue  # the savepoint is rolled back; the other ticket now counts in max()
        return ticket
    raise RuntimeError(f"no free ticket number after {_NUMBER_ATTEMPTS} attempts")


async def change_status(
    session: AsyncSession,
    ticket: Ticket,
    status: str,
    *,
    actor_type: str,
    actor_id: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move a ticket (IllegalTicketTransition if not allowed), log it, tell the customer.

    Which moves are told is decided in `tickets_notify` (not every internal step).
    """
    current = ticket.status
    if status not in _TRANSITIONS:
        raise IllegalTicketTransition(f"unknown ticket status {status!r}")
    if status not in _TRANSITIONS.get(current, frozenset()):
        raise IllegalTicketTransition(f"ticket cannot move from {current} to {status}")
    when = now or utcnow()
    ticket.status = status
    ticket.updated_at = when
    if status == "resolved":
        ticket.resolved_at = when
    elif status == "closed":
        ticket.closed_at = when
    elif current == "resolved":  # reopened
        ticket.resolved_at = None
    data: dict[str, Any] = {
        "ticket_id": ticket.id,
        "label": ticket_label(ticket),
        "from": current,
        "to": status,
    }
    if note:
        data["note"] = note
    timeline.record(
        session,
        customer_id=ticket.customer_id,
        conversation_id=ticket.conversation_id,
        kind="ticket_status_changed",
        actor_type=actor_type,
        actor_id=actor_id,
        data=data,
    )
    await tell_customer(session, ticket, previous=current)
    return ticket


def set_severity(
    session: AsyncSession,
    ticket: Ticket,
    severity: str,
    *,
    actor_type: str,
    actor_id: str | None = None,
    sla_hours: Mapping[str, float] | None = None,
) -> Ticket:
    """Re-rate a ticket; its SLA due time is recomputed from when it was opened."""
    if not is_severity(severity):
        raise ValueError(f"unknown severity {severity!r}")
    if severity == ticket.severity:
        return ticket
    hours = parse_sla_hours(sla_hours)
    previous = ticket.severity
    ticket.severity = severity
    ticket.sla_due_at = ticket.created_at + timedelta(hours=hours[severity])
    ticket.updated_at = utcnow()
    timeline.record(
        session,
        customer_id=ticket.customer_id,
        conversation_id=ticket.conversation_id,
        kind="ticket_severity_changed",
        actor_type=actor_type,
        actor_id=actor_id,
        data={
            "ticket_id": ticket.id,
            "label": ticket_label(ticket),
            "from": previous,
            "to": severity,
            "sla_due_at": ticket.sla_due_at.isoformat(),
        },
    )
    return ticket
