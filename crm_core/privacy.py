"""Data-subject rights: everything we hold about one person as JSON, and erasing it.

The export is what a customer may ask to see (GDPR art. 15, Vietnam's Decree 13/2023 art. 9);
the erasure (`crm_core.erasure`) removes it and keeps a PII-free record. Both are audited with
ids and counts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.audit import audit
from crm_core.models import (
    Appointment,
    Base,
    ContactPoint,
    Conversation,
    Customer,
    CustomerMerge,
    Identity,
    MergeSuggestion,
    Message,
    Purchase,
    Service,
    Ticket,
    TimelineEvent,
)
from crm_core.types import utcnow

EXPORT_FORMAT = "omnicrm.customer-export/1"


class Actor(Protocol):
    """Who asked: an API key or console user (`Principal`), or the command line."""

    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> str | None: ...


@dataclass(frozen=True)
class ActorRef:
    """A plain actor for callers without a `Principal` (the console, the CLI)."""

    kind: str
    id: str | None = None


class CustomerNotFound(LookupError):
    """No customer has this id."""


async def export_customer(
    session: AsyncSession, customer_id: str, *, actor: Actor | None = None
) -> dict[str, Any]:
    """Everything we hold about the customer, JSON-ready; audited when `actor` is given."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    conversations = await _rows(session, Conversation, customer_id, Conversation.created_at)
    messages = await _rows(session, Message, customer_id, Message.created_at)
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_conversation.setdefault(message.conversation_id, []).append(_message(message))
    identities = await _rows(session, Identity, customer_id, Identity.created_at)
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "customer": _plain(customer, exclude=()),
        "contact_points": [
            _plain(p, exclude=("customer_id",))
            for p in await _rows(session, ContactPoint, customer_id, ContactPoint.created_at)
        ],
        "identities": [_plain(i, exclude=("customer_id",)) for i in identities],
        "consent": [_consent(i) for i in identities],
        "conversations": [
            {**_plain(c, exclude=("customer_id",)), "messages": by_conversation.get(c.id, [])}
            for c in conversations
        ],
        "timeline": [
            _plain(e, exclude=("customer_id",))
            for e in await _rows(session, TimelineEvent, customer_id, TimelineEvent.created_at)
        ],
        "purchases": [
            _plain(p, exclude=("customer_id",))
            for p in await _rows(session, Purchase, customer_id, Purchase.purchased_at)
        ],
        "tickets": [
            _plain(t, exclude=("customer_id",))
            for t in await _rows(session, Ticket, customer_id, Ticket.created_at)
        ],
        "appointments": await _appointments(session, customer_id),
        "merge_suggestions": await _suggestions(session, customer_id),
        "merges": await _merges(session, customer_id),
    }
    if actor is not None:
        audit(
            session,
            action="customer_export",
            actor_type=actor.kind,
            actor_id=actor.id,
            object_type="customer",
            object_id=customer_id,
            data={"counts": counts_of(document)},
        )
    return document


def counts_of(document: dict[str, Any]) -> dict[str, int]:
    """How many records of each kind an export holds (what the audit log keeps)."""
    counts = {key: len(value) for key, value in document.items() if isinstance(value, list)}
    counts["messages"] = sum(len(c["messages"]) for c in document["conversations"])
    return counts


async def _rows(session: AsyncSession, model: Any, customer_id: str, order: Any) -> Sequence[Any]:
    stmt = select(model).where(model.customer_id == customer_id).order_by(order, model.id)
    return (await session.scalars(stmt)).all()


def _message(message: Message) -> dict[str, Any]:
    return _plain(
        message,
        exclude=("customer_id", "conversation_id", "search_text", "attempts", "next_attempt_at"),
    )


def _consent(identity: Identity) -> dict[str, Any]:
    return {
        "channel": identity.channel,
        "external_id": identity.external_id,
        "status": "opted_out" if identity.opted_out_at else "subscribed",
        "opted_out_at": _json(identity.opted_out_at),
        "source": identity.opt_out_source,
    }


async def _appointments(session: AsyncSession, customer_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(Appointment, Service.key, Service.name_en, Service.name_vi)
        .join(Service, Service.id == Appointment.service_id)
        .where(Appointment.customer_id == customer_id)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [
        {
            **_plain(row, exclude=("customer_id",)),
            "service": {"key": key, "name_en": name_en, "name_vi": name_vi},
        }
        for row, key, name_en, name_vi in (await session.execute(stmt)).all()
    ]


async def _suggestions(session: AsyncSession, customer_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(MergeSuggestion)
        .where(
            or_(
                MergeSuggestion.customer_id == customer_id,
                MergeSuggestion.other_customer_id == customer_id,
            )
        )
        .order_by(MergeSuggestion.created_at, MergeSuggestion.id)
    )
    return [_plain(s, exclude=()) for s in (await session.scalars(stmt)).all()]


async def _merges(session: AsyncSession, customer_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(CustomerMerge)
        .where(CustomerMerge.target_id == customer_id)
        .order_by(CustomerMerge.merged_at, CustomerMerge.id)
    )
    return [_plain(m, exclude=("moved",)) for m in (await session.scalars(stmt)).all()]


def _plain(row: Base, *, exclude: Sequence[str]) -> dict[str, Any]:
    """A model row as a JSON-ready dict of its columns."""
    return {
        column.key: _json(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in exclude
    }


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value
