"""The dialogues through the web chat API (real clock), complaints, and order status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from crm_core.models import Conversation, Purchase, Ticket
from tests.conftest import Harness, make_settings, running_app
from tests.fakes.telegram import FakeTelegram
from tests.omnicrm.dialogue_helpers import (
    DIALOGUE_SETTINGS,
    HCM,
    TelegramChat,
    WebChat,
    appointments,
    seed_catalogue,
)


@pytest.fixture
async def app(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, fake_telegram.url, **DIALOGUE_SETTINGS)
    async with running_app(settings) as harness:
        await seed_catalogue(harness)
        yield harness


def _tomorrow() -> datetime:
    return datetime.now(HCM) + timedelta(days=1)


async def test_english_booking_with_a_day_then_a_picked_time(app: Harness) -> None:
    chat = await WebChat.open(app, language="en", email="emily@example.com")
    reply = await chat.say("I'd like to book a skin consultation tomorrow")
    day = _tomorrow()
    assert reply.startswith(f"On {day.strftime('%A')} {day.day} ")
    assert "09:00" in reply and "Which one" in reply
    reply = await chat.say("1")
    assert reply == "May I have your name for the booking?"
    reply = await chat.say("my name is Emily Carter")
    assert reply.startswith("Skin consultation, 09:00, ") and "300,000 VND" in reply
    reply = await chat.say("yes")
    assert reply.startswith("You're booked: Skin consultation, 09:00")
    booked = await appointments(app, chat.customer_id)
    assert [a["starts_at_local"] for a in booked] == [
        day.replace(hour=9, minute=0, second=0, microsecond=0).isoformat()
    ]


async def test_vietnamese_webchat_booking_asks_name_and_phone(app: Harness) -> None:
    chat = await WebChat.open(app)
    reply = await chat.say("đặt lịch massage 3h chiều mai")
    assert reply == "Cho mình xin họ tên của bạn để ghi lịch hẹn ạ?"
    reply = await chat.say("tên mình là Trần Minh")
    assert "số điện thoại" in reply
    reply = await chat.say("0987 654 321")
    assert reply.startswith("Dịch vụ Massage body thư giãn, 15:00 ")
    reply = await chat.say("không")
    assert "muốn đổi gì" in reply
    reply = await chat.say("4h chiều mai")
    assert reply.startswith("Dịch vụ Massage body thư giãn, 16:00 ")
    reply = await chat.say("xác nhận")
    assert reply.startswith("Đã đặt lịch Massage body thư giãn lúc 16:00")
    booked = await appointments(app, chat.customer_id)
    assert [a["starts_at_local"] for a in booked] == [
        _tomorrow().replace(hour=16, minute=0, second=0, microsecond=0).isoformat()
    ]
    customer = await app.get(f"/api/v1/customers/{chat.customer_id}")
    assert customer.json()["name"] == "Trần Minh"
    assert "+84987654321" in customer.json()["phones"]


async def _tickets(app: Harness) -> list[Ticket]:
    async with app.runtime.db.reading() as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.number))).scalars())


async def test_complaint_intake_creates_a_ticket_with_sla(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    chat = TelegramChat(app, fake_telegram, user_id=4200000201)
    reply = await chat.say("tôi muốn khiếu nại")
    assert "chuyện gì đã xảy ra" in reply
    reply = await chat.say("nhân viên đến muộn 30 phút mà không báo trước")
    assert "mã đơn hàng" in reply
    reply = await chat.say("không")
    assert "số điện thoại hoặc email" in reply
    reply = await chat.say("0912345678")
    assert "mã phiếu T-000001" in reply and "phản hồi trong 24 giờ" in reply
    [ticket] = await _tickets(app)
    assert ticket.severity == "normal" and ticket.contact == "+84912345678"
    assert ticket.sla_due_at is not None
    assert ticket.sla_due_at - ticket.created_at == timedelta(hours=24)
    assert (await chat.conversation()).status == "bot"

    # Angry again while that ticket is open: a person takes over at once.
    reply = await chat.say("khiếu nại: vẫn chưa ai gọi lại, thật sự quá thất vọng")
    assert "T-000002" in reply and "chuyển ngay cho nhân viên" in reply
    conversation = await chat.conversation()
    assert conversation.status == "waiting_agent" and conversation.skill == "complaints"


async def test_severe_complaint_hands_off_at_once(app: Harness) -> None:
    chat = await WebChat.open(app)
    reply = await chat.say("tôi muốn khiếu nại, sau khi điều trị mụn tôi bị dị ứng sưng mặt")
    assert "T-000001" in reply and "phản hồi trong 2 giờ" in reply
    [ticket] = await _tickets(app)
    assert ticket.severity == "urgent"
    async with app.runtime.db.reading() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.status == "waiting_agent"


async def test_order_status_from_purchases(app: Harness) -> None:
    chat = await WebChat.open(app)
    async with app.runtime.db.transaction() as session:
        session.add(
            Purchase(
                customer_id=chat.customer_id,
                description="Kem chống nắng",
                amount=350_000,
                external_id="DH12345",
                items=[{"name": "Kem chống nắng SPF50", "quantity": 1}],
                purchased_at=datetime(2026, 11, 1, 3, 0, tzinfo=HCM),
            )
        )
    reply = await chat.say("đơn hàng DH12345 của mình sao rồi")
    assert reply.startswith("Đơn DH12345 của bạn: Kem chống nắng (Kem chống nắng SPF50 x1)")
    assert "350.000đ" in reply
    reply = await chat.say("don hang DH99999 dau roi")
    assert "chưa tìm thấy đơn DH99999" in reply
