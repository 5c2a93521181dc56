"""A conversation with one message of every author and a few timeline events, at known times.

Shared by the transcript, QA, print/PDF, API and CLI tests; written straight to the database
so the tests do not depend on what the NLU happens to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm_core.db import Database
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    Identity,
    Message,
    TimelineEvent,
)
from crm_core.types import new_id

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Ho Chi Minh City
BOOKING_TEXT = "Xin chào, tôi muốn đặt lịch chăm sóc da vào thứ Bảy"
BOT_TEXT = "Dạ, bạn muốn đặt lịch vào ngày nào ạ?"
AGENT_TEXT = "Em Mai đây ạ, em giúp mình nhé"
SYSTEM_TEXT = "Cảm ơn bạn đã liên hệ"
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> "
    "[bấm vào đây](javascript:alert(3)) javascript:alert(4)"
)


@dataclass(frozen=True)
class Seeded:
    customer_id: str
    conversation_id: str
    booking_message_id: str  # customer, intent book_consultation 0.87
    hostile_message_id: str  # customer, intent greet 0.41
    bot_message_id: str


async def seed_conversation(
    db: Database,
    *,
    agent_id: str | None = None,
    agent_name: str = "Mai",
    name: str = "Lan Nguyễn",
    hostile: str = HOSTILE,
) -> Seeded:
    """Customer Lan on Telegram: a booking question, a hostile message, bot, agent and system
    replies, and the handoff, claim, ticket and booking events in between."""
    customer = Customer(id=new_id(), name=name, language="vi")
    identity = Identity(
        id=new_id(),
        customer_id=customer.id,
        channel="telegram",
        external_id=new_id(),
        display_name="Lan",
    )
    conversation = Conversation(
        id=new_id(),
        customer_id=customer.id,
        identity_id=identity.id,
        channel="telegram",
        status="agent" if agent_id else "waiting_agent",
        assigned_agent_id=agent_id,
        created_at=T0,
        last_message_at=T0 + timedelta(seconds=9),
    )
    ids = Seeded(customer.id, conversation.id, new_id(), new_id(), new_id())

    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    def message(seconds: int, author: str, text: str, status: str, **extra: object) -> Message:
        return Message(
            conversation_id=conversation.id,
            customer_id=customer.id,
            channel="telegram",
            direction="in" if author == "customer" else "out",
            author_type=author,
            text=text,
            status=status,
            created_at=at(seconds),
            **extra,
        )

    def event(seconds: int, kind: str, actor: str, **data: object) -> TimelineEvent:
        return TimelineEvent(
            customer_id=customer.id,
            conversation_id=conversation.id,
            kind=kind,
            actor_type=actor,
            actor_id=agent_id if actor == "agent" else None,
            data=data,
            created_at=at(seconds),
        )

    rows: list[object] = [
        event(0, "conversation_opened", "customer", channel="telegram"),
        message(
            1,
            "customer",
            BOOKING_TEXT,
            "received",
            id=ids.booking_message_id,
            intent="book_consultation",
            intent_confidence=0.87,
        ),
        message(2, "bot", BOT_TEXT, "delivered", id=ids.bot_message_id),
        message(
            3,
            "customer",
            hostile,
            "received",
            id=ids.hostile_message_id,
            intent="greet",
            intent_confidence=0.41,
        ),
        event(4, "status_changed", "system", **{"from": "bot", "to": "waiting_agent"}),
        event(5, "claimed", "agent", actor_name=agent_name, **{"from": "waiting_agent"}),
        message(6, "agent", AGENT_TEXT, "read", author_id=agent_id, author_name=agent_name),
        event(
            7,
            "ticket_opened",
            "agent",
            label="T-000042",
            category="complaint",
            severity="high",
        ),
        event(8, "appointment_booked", "bot", service="facial", starts_at=at(86400).isoformat()),
        message(9, "system", SYSTEM_TEXT, "failed", error="blocked by the user"),
    ]
    async with db.transaction() as session:
        session.add(customer)
        await session.flush()
        session.add_all(
            [
                identity,
                ContactPoint(customer_id=customer.id, kind="phone", value="+84912345678"),
                ContactPoint(customer_id=customer.id, kind="email", value="lan@example.com"),
            ]
        )
        await session.flush()
        session.add(conversation)
        await session.flush()
        session.add_all(rows)
    return ids
