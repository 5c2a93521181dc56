"""A customer with personal data in every corner of the database, and a bystander.

The subject, "Quynhanh Nguyen", writes on Telegram and shares her phone; we then give her an
e-mail, a ticket, an appointment, a purchase, a note, a QA review, an NLU correction, a web
chat session, a merge (with a dropped duplicate e-mail), a merge suggestion and a reply still
queued for later. The bystander, "Lan Nguyen", has a queued reply of her own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.conversations import add_outbound
from crm_core.merges import merge_customers
from crm_core.models import (
    Appointment,
    AutomationRun,
    ContactPoint,
    Conversation,
    Customer,
    Identity,
    MergeSuggestion,
    Message,
    NluCorrection,
    Purchase,
    QaReview,
    Service,
    Ticket,
    WebchatSession,
)
from crm_core.types import utcnow
from tests.conftest import Harness
from tests.fakes import updates

SUBJECT_TG = 4200000501
BYSTANDER_TG = 4200000502
NAME = "Quynhanh"
PHONE = "+84903777888"
PHONE_TYPED = "0903 777 888"
EMAIL = "quynhanh.test@example.org"
SECRET = "ZX-4471-bimat"
QUEUED_TEXT = f"Reminder for {NAME}: {SECRET}"
BYSTANDER_TEXT = "Lan's reminder: see you tomorrow"
# Every string that must be gone from the whole database after the subject's erasure.
PII = (NAME, PHONE, PHONE_TYPED, EMAIL, SECRET, str(SUBJECT_TG))


@dataclass(frozen=True)
class Seeded:
    subject_id: str
    bystander_id: str
    subject_conversation_id: str
    queued_id: str
    bystander_queued_id: str


async def _customer_of(harness: Harness, telegram_id: int) -> str:
    async with harness.runtime.db.reading() as session:
        return str(
            await session.scalar(
                select(Identity.customer_id).where(
                    Identity.channel == "telegram", Identity.external_id == str(telegram_id)
                )
            )
        )


async def seed(harness: Harness) -> Seeded:
    """Fill the database through the real webhook, then add what the bot would not."""
    await harness.telegram(
        updates.text_update(
            300001, f"Mã của tôi là {SECRET}, số {PHONE_TYPED}", user_id=SUBJECT_TG, first=NAME
        )
    )
    await harness.telegram(updates.contact_update(300002, PHONE, user_id=SUBJECT_TG))
    await harness.telegram(updates.text_update(300003, "xin chào", user_id=BYSTANDER_TG))
    await harness.settle()
    subject_id = await _customer_of(harness, SUBJECT_TG)
    bystander_id = await _customer_of(harness, BYSTANDER_TG)
    later = utcnow() + timedelta(hours=1)
    async with harness.runtime.db.transaction() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.customer_id == subject_id)
        )
        assert conversation is not None
        inbound = await session.scalar(
            select(Message).where(Message.customer_id == subject_id, Message.direction == "in")
        )
        assert inbound is not None
        queued = add_outbound(session, conversation, text=QUEUED_TEXT, author_type="bot")
        queued.next_attempt_at = later
        other = await session.scalar(
            select(Conversation).where(Conversation.customer_id == bystander_id)
        )
        assert other is not None
        bystander_queued = add_outbound(session, other, text=BYSTANDER_TEXT, author_type="bot")
        bystander_queued.next_attempt_at = later
        await _extras(session, subject_id, bystander_id, conversation.id, inbound.id)
        await session.flush()
        ids = Seeded(subject_id, bystander_id, conversation.id, queued.id, bystander_queued.id)
    return ids


async def _extras(
    session: AsyncSession,
    subject_id: str,
    bystander_id: str,
    conversation_id: str,
    message_id: str,
) -> None:
    session.add(ContactPoint(customer_id=subject_id, kind="email", value=EMAIL, source="webchat"))
    service = Service(
        key="privacy-facial",
        name_vi="Chăm sóc da",
        name_en="Facial",
        duration_minutes=60,
        price=500000,
    )
    session.add(service)
    await session.flush()
    start = utcnow() + timedelta(days=3)
    session.add(
        Appointment(
            customer_id=subject_id,
            conversation_id=conversation_id,
            service_id=service.id,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            channel="telegram",
            notes=f"{NAME} prefers the window seat, call {PHONE}",
        )
    )
    session.add(
        Ticket(
            number=990001,
            customer_id=subject_id,
            conversation_id=conversation_id,
            severity="high",
            subject=f"{NAME} complains about order {SECRET}",
            description=f"Call back on {PHONE} or {EMAIL}",
            contact=PHONE,
            order_id=SECRET,
        )
    )
    session.add(
        Purchase(
            customer_id=subject_id,
            description="Gift box for Quynhanh",
            amount=750000,
            external_id=f"ORDER-{SECRET}",
            items=[{"name": f"Engraved for {NAME}", "quantity": 1}],
            purchased_at=utcnow() - timedelta(days=10),
        )
    )
    timeline.record(
        session,
        customer_id=subject_id,
        conversation_id=conversation_id,
        kind="note",
        actor_type="agent",
        data={"text": f"{NAME} will call from {PHONE}", "actor_name": "Mai"},
    )
    session.add(
        QaReview(conversation_id=conversation_id, scores={"tone": 2}, notes=f"{NAME} was happy")
    )
    session.add(
        NluCorrection(
            message_id=message_id,
            conversation_id=conversation_id,
            text=f"Mã của tôi là {SECRET}",
            correct_intent="greet",
        )
    )
    session.add(WebchatSession(token_hash="a" * 64, customer_id=subject_id))
    session.add(
        AutomationRun(
            key=f"reminder_24h:{subject_id}",
            kind="reminder",
            customer_id=subject_id,
            outcome="queued",
            data={"why": f"for {NAME}", "appointment_id": "x1"},
        )
    )
    session.add(
        MergeSuggestion(
            customer_id=bystander_id, other_customer_id=subject_id, kind="email", value=EMAIL
        )
    )
    old = Customer(name=f"{NAME} (old profile)", attributes={"note": NAME})
    session.add(old)
    await session.flush()
    session.add(ContactPoint(customer_id=old.id, kind="email", value=EMAIL, source="import"))
    await session.flush()
    target = await session.get(Customer, subject_id)
    assert target is not None
    await merge_customers(
        session, source_id=old.id, target=target, reason="test", actor_type="system"
    )
