"""Four weeks of finished conversations for the dashboard: a third kept by the bot, the rest
handed off with varied answer and resolution times and ratings; returning customers,
complaints with tickets, bookings (some no-shows) and first purchases."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Appointment, Purchase, Service
from tests.browser.world import CHANNELS, Agent, People, Thread, Turn, record, write

NAMES = ("Vũ Thảo", "Hoàng Nam", "Bùi Lan Anh", "Đặng Khoa", "Ngô Mai", "Phan Tùng", "Lý Hạnh")
ASKS = (
    ("Đặt lịch massage body chiều mai được không?", "book_appointment"),
    ("Giá chăm sóc da mặt bao nhiêu?", "ask_price"),
    ("Tôi muốn khiếu nại về dịch vụ hôm qua", "complaint"),
    ("Can I reschedule my facial?", "reschedule"),
    ("Cho tôi gặp nhân viên tư vấn", "human_handoff"),
)
TICKETS = (("service", "normal"), ("service", "high"), ("billing", "low"), ("staff", "urgent"))
DAYS = 28
PER_DAY = 2


async def history(session: AsyncSession, *, now: datetime, agent: Agent, people: People) -> None:
    """Write DAYS × PER_DAY resolved conversations, newest first, with what followed them."""
    service = Service(
        key="body_massage",
        name_vi="Massage body thư giãn",
        name_en="Relaxing body massage",
        duration_minutes=60,
        price=550_000,
    )
    session.add(service)
    await session.flush()
    for index in range(DAYS * PER_DAY):
        started = now - timedelta(days=1 + index // PER_DAY, hours=index % 7)
        thread = _thread(index)
        conversation = await write(session, thread, started=started, agent=agent, people=people)
        if thread.turns[0][3] == "book_appointment":
            starts = started + timedelta(days=1)
            session.add(
                Appointment(
                    customer_id=conversation.customer_id,
                    conversation_id=conversation.id,
                    service_id=service.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=service.duration_minutes),
                    status="no_show" if index % 2 else "completed",
                    channel=thread.channel,
                    created_at=started + timedelta(minutes=1),
                )
            )
            booked = started + timedelta(minutes=1)
            record(session, conversation, "appointment_booked", booked, "bot", service=service.key)
    for offset, name in enumerate(NAMES[::2]):  # some leads become customers
        customer = people.customers[name]
        customer.lifecycle_stage = "customer"
        bought = now - timedelta(days=2 + 3 * offset)
        session.add(
            Purchase(
                customer_id=customer.id,
                description=service.name_vi,
                amount=service.price,
                purchased_at=bought,
            )
        )


def _thread(index: int) -> Thread:
    text, intent = ASKS[index % len(ASKS)]
    answer = 2 + (index * 7) % 25
    if index % 3 == 0:
        turns: tuple[Turn, ...] = (
            (0, "customer", text, intent, 0.9),
            (1, "bot", "Dạ, em gửi thông tin ngay ạ.", None, None),
        )
    else:
        turns = (
            (0, "customer", text, intent, 0.8),
            (1, "bot", "Em chuyển cho nhân viên ngay ạ.", None, None),
            (1 + answer, "agent", "Chào anh/chị, em hỗ trợ ngay ạ.", None, None),
            (20 + answer + (index * 11) % 90, "customer", "Cảm ơn nhé", "thanks", 0.93),
        )
    return Thread(
        CHANNELS[index % len(CHANNELS)],
        NAMES[index % len(NAMES)],
        "resolved",
        turns,
        csat=None if index % 4 == 3 else 3 + index % 3,
        ticket=TICKETS[index % len(TICKETS)] if intent == "complaint" else None,
    )
