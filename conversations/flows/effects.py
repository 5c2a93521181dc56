"""Applying a step's effects inside the engine's transaction; failures come back as data."""

from __future__ import annotations

from conversations.flows.base import (
    Applied,
    Book,
    CancelAppointment,
    Effect,
    FlowContext,
    OpenTicket,
    OptOut,
    Reschedule,
    SaveContact,
)
from crm_core import customers
from crm_core.booking.appointments import book, cancel, reschedule
from crm_core.booking.errors import BookingError
from crm_core.conversations import set_opt_out
from crm_core.tickets import open_ticket


async def apply_all(ctx: FlowContext, effects: list[Effect]) -> list[Applied]:
    """In order; a booking error (taken, not bookable) is returned for the flow to word."""
    return [await _apply(ctx, effect) for effect in effects]


async def _apply(ctx: FlowContext, effect: Effect) -> Applied:
    session, rules = ctx.session, ctx.rules
    conversation = ctx.conversation
    try:
        if isinstance(effect, Book):
            result = await book(
                session,
                customer_id=ctx.customer.id,
                service_key=effect.service_key,
                starts_at=effect.starts_at,
                rules=rules.booking,
                conversation_id=conversation.id,
                channel=conversation.channel,
                actor_type="customer",
                now=ctx.now,
            )
        elif isinstance(effect, Reschedule):
            result = await reschedule(
                session,
                effect.appointment_id,
                starts_at=effect.starts_at,
                rules=rules.booking,
                actor_type="customer",
                now=ctx.now,
            )
        elif isinstance(effect, CancelAppointment):
            result = await cancel(
                session, effect.appointment_id, actor_type="customer", reason="customer_chat"
            )
        elif isinstance(effect, OpenTicket):
            result = await open_ticket(
                session,
                customer=ctx.customer,
                conversation_id=conversation.id,
                subject=effect.subject,
                description=effect.description,
                order_id=effect.order_id,
                contact=effect.contact,
                text=effect.text,
                sla_hours=rules.sla_hours,
                now=ctx.now,
                severity=effect.severity,
            )
        elif isinstance(effect, SaveContact):
            result = await _save_contact(ctx, effect)
        elif isinstance(effect, OptOut):
            result = ctx.identity is not None and set_opt_out(
                session,
                ctx.identity,
                opted_out=True,
                source=f"{conversation.channel}:bot",
                actor_type="customer",
                conversation_id=conversation.id,
            )
        else:  # pragma: no cover - the Effect union is closed
            raise TypeError(f"unknown effect {effect!r}")
    except BookingError as exc:
        return Applied(effect, exc, error=type(exc).__name__)
    return Applied(effect, result)


async def _save_contact(ctx: FlowContext, effect: SaveContact) -> bool:
    """What the customer typed is unverified: stored, and a match elsewhere is only suggested."""
    if ctx.identity is None:
        return False
    await customers.add_contact_details(
        ctx.session,
        customers.Resolved(ctx.customer, ctx.identity, created=False),
        phone=effect.phone,
        email=effect.email,
        name=effect.name,
        verified=False,
        source=ctx.conversation.channel,
        region=ctx.rules.region,
        join_on_verified_match=False,
    )
    return True
