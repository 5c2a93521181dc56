"""Tickets in the database (SQLite and PostgreSQL): numbers, SLA, transitions, notices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_core.db import Database
from crm_core.models import (
    Conversation,
    Customer,
    Identity,
    Message,
    Purchase,
    Ticket,
    TimelineEvent,
)
from crm_core.tickets import (
    IllegalTicketTransition,
    change_status,
    is_breached,
    open_ticket,
    set_severity,
)
from crm_core.types import new_id

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _customer(db: Database, *, language: str = "vi", spent: int = 0) -> tuple[str, str]:
    """A customer with a Telegram conversation; returns (customer id, conversation id)."""
    customer = Customer(id=new_id(), name="Lan", language=language)
    identity = Identity(
        id=new_id(), customer_id=customer.id, channel="telegram", external_id=new_id()
    )
    conversation = Conversation(
        id=new_id(), customer_id=customer.id, identity_id=identity.id, channel="telegram"
    )
    async with db.transaction() as session:
        session.add(customer)
        await session.flush()
        session.add(identity)
        await session.flush()
        session.add(conversation)
        if spent:
            session.add(
                Purchase(
                    id=new_id(),
                    customer_id=customer.id,
                    description="Gói trị liệu",
                    amount=spent,
                    purchased_at=NOW - timedelta(days=30),
                )
            )
    return customer.id, conversation.id


async def _open(db: Database, customer_id: str, conversation_id: str | None, text: str) -> Ticket:
    async with db.transaction() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        return await open_ticket(
            session,
            customer=customer,
            conversation_id=conversation_id,
            subject="Khiếu nại",
            description=text,
            text=text,
            order_id="DH-1001",
            contact="+84912345678",
            sla_hours={"urgent": 2, "high": 8, "normal": 24, "low": 72},
            now=NOW,
        )


async def test_ticket_opens_with_severity_sla_and_timeline(db: Database) -> None:
    customer_id, conversation_id = await _customer(db)
    ticket = await _open(db, customer_id, conversation_id, "Tôi bị dị ứng sau khi dùng kem")
    assert (ticket.number, ticket.status, ticket.severity) == (1, "new", "urgent")
    assert ticket.sla_due_at == NOW + timedelta(hours=2)
    async with db.reading() as session:
        stored = await session.get(Ticket, ticket.id)
        events = list(
            (
                await session.execute(
                    select(TimelineEvent).where(TimelineEvent.kind == "ticket_opened")
                )
            ).scalars()
        )
    assert stored is not None and stored.order_id == "DH-1001"
    assert stored.sla_due_at == NOW + timedelta(hours=2)
    assert len(events) == 1
    assert events[0].data["number"] == 1 and events[0].data["label"] == "T-000001"
    assert events[0].data["severity"] == "urgent" and events[0].data["sla_hours"] == 2
    assert is_breached(stored, now=NOW + timedelta(hours=3))
    assert not is_breached(stored, now=NOW + timedelta(hours=1))


async def test_high_value_customer_and_repeat_complaint_raise_severity(db: Database) -> None:
    vip, vip_conversation = await _customer(db, spent=15_000_000)
    first = await _open(db, vip, vip_conversation, "Nhân viên đến trễ")
    assert first.severity == "high"
    regular, conversation = await _customer(db)
    assert (await _open(db, regular, conversation, "nhan vien den tre")).severity == "normal"
    repeat = await _open(db, regular, conversation, "nhan vien den tre")
    assert repeat.severity == "high" and repeat.sla_due_at == NOW + timedelta(hours=8)


async def test_ten_tickets_opened_at_once_get_ten_numbers(db: Database) -> None:
    customer_id, conversation_id = await _customer(db)
    tickets = await asyncio.gather(
        *(_open(db, customer_id, conversation_id, f"lỗi số {i}") for i in range(10))
    )
    assert sorted(t.number for t in tickets) == list(range(1, 11))
    async with db.reading() as session:
        numbers = sorted((await session.execute(select(Ticket.number))).scalars())
    assert numbers == list(range(1, 11))


async def _move(db: Database, ticket_id: str, status: str) -> Ticket:
    async with db.transaction() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return await change_status(session, ticket, status, actor_type="agent", note="checked")


async def _notices(db: Database, conversation_id: str) -> list[str]:
    async with db.reading() as session:
        stmt = (
            select(Message.text)
            .where(Message.conversation_id == conversation_id, Message.author_type == "system")
            .order_by(Message.created_at)
        )
        return list((await session.execute(stmt)).scalars())


async def test_lifecycle_tells_the_customer_the_steps_that_matter(db: Database) -> None:
    customer_id, conversation_id = await _customer(db)
    ticket = await _open(db, customer_id, conversation_id, "nhân viên đến trễ")
    for status in ("in_progress", "waiting_on_customer", "in_progress", "resolved"):
        await _move(db, ticket.id, status)
    resolved = await _move(db, ticket.id, "in_progress")  # reopened
    assert resolved.resolved_at is None
    await _move(db, ticket.id, "resolved")
    closed = await _move(db, ticket.id, "closed")
    assert closed.closed_at is not None and closed.resolved_at is not None
    notices = await _notices(db, conversation_id)
    assert notices == [
        "Yêu cầu T-000001 của bạn đang được xử lý. Chúng tôi sẽ báo lại khi có kết quả.",
        "Để xử lý yêu cầu T-000001, chúng tôi cần thêm thông tin từ bạn. "
        "Bạn vui lòng trả lời tin nhắn này nhé.",
        "Yêu cầu T-000001 đã được giải quyết. Nếu vấn đề vẫn còn, bạn cứ nhắn lại "
        "để chúng tôi mở lại yêu cầu nhé.",
        "Yêu cầu T-000001 đã được mở lại và đang được xử lý.",
        "Yêu cầu T-000001 đã được giải quyết. Nếu vấn đề vẫn còn, bạn cứ nhắn lại "
        "để chúng tôi mở lại yêu cầu nhé.",
    ]
    async with db.reading() as session:
        kinds = list(
            (
                await session.execute(
                    select(TimelineEvent.data).where(TimelineEvent.kind == "ticket_status_changed")
                )
            ).scalars()
        )
        queued = list(
            (
                await session.execute(
                    select(Message).where(Message.conversation_id == conversation_id)
                )
            ).scalars()
        )
    assert len(kinds) == 7 and all(k["note"] == "checked" for k in kinds)
    assert {m.status for m in queued} == {"queued"} and {m.channel for m in queued} == {"telegram"}


async def test_english_customer_hears_english_and_the_latest_conversation_is_used(
    db: Database,
) -> None:
    customer_id, conversation_id = await _customer(db, language="en")
    ticket = await _open(db, customer_id, None, "the appointment started late")
    await _move(db, ticket.id, "in_progress")
    assert await _notices(db, conversation_id) == [
        "Your request T-000001 is being handled. We will let you know when it is done."
    ]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), "resolved"),
        ((), "closed"),
        ((), "waiting_on_customer"),
        (("in_progress",), "closed"),
        (("in_progress",), "new"),
        (("in_progress", "waiting_on_customer"), "resolved"),
        (("in_progress", "resolved", "closed"), "in_progress"),
        ((), "archived"),
    ],
)
async def test_illegal_moves_are_refused(db: Database, path: tuple[str, ...], bad: str) -> None:
    customer_id, conversation_id = await _customer(db)
    ticket = await _open(db, customer_id, conversation_id, "lỗi")
    for status in path:
        await _move(db, ticket.id, status)
    with pytest.raises(IllegalTicketTransition):
        await _move(db, ticket.id, bad)
    assert issubclass(IllegalTicketTransition, ValueError)


async def test_new_severity_recomputes_the_due_time(db: Database) -> None:
    customer_id, conversation_id = await _customer(db)
    ticket = await _open(db, customer_id, conversation_id, "nhân viên đến trễ")
    async with db.transaction() as session:
        stored = await session.get(Ticket, ticket.id)
        assert stored is not None
        set_severity(session, stored, "urgent", actor_type="agent", sla_hours={"urgent": 1})
    async with db.reading() as session:
        stored = await session.get(Ticket, ticket.id)
    assert stored is not None and stored.severity == "urgent"
    assert stored.sla_due_at == NOW + timedelta(hours=1)
