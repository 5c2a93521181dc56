"""Booking, rescheduling and cancelling by chat, end to end (Telegram with a fixed clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Harness, make_settings, running_app
from tests.fakes.telegram import FakeTelegram
from tests.omnicrm.dialogue_helpers import (
    DIALOGUE_SETTINGS,
    TelegramChat,
    appointments,
    seed_catalogue,
)


@pytest.fixture
async def app(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, fake_telegram.url, **DIALOGUE_SETTINGS)
    async with running_app(settings) as harness:
        await seed_catalogue(harness)
        yield harness


async def test_booking_without_diacritics_then_reschedule_and_cancel(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    chat = TelegramChat(app, fake_telegram)
    reply = await chat.say("dat lich tu van da 9h sang mai")
    assert "email" in reply.lower() and "điện thoại" in reply  # Lan has no contact yet
    reply = await chat.say("lan.nguyen@example.com")
    assert reply.startswith("Dịch vụ Tư vấn da liễu, 09:00 thứ Bảy 21/11, 30 phút, 300.000đ")
    assert "xác nhận" in reply
    reply = await chat.say("ok")
    assert reply.startswith("Đã đặt lịch Tư vấn da liễu lúc 09:00 thứ Bảy 21/11"), reply
    conversation = await chat.conversation()
    booked = await appointments(app, conversation.customer_id)
    assert [(a["starts_at_local"], a["status"]) for a in booked] == [
        ("2026-11-21T09:00:00+07:00", "booked")
    ]
    assert "flow" not in conversation.bot_state

    reply = await chat.say("doi lich")
    assert "09:00 thứ Bảy 21/11" in reply and "ngày giờ nào" in reply
    reply = await chat.say("thu 2 tuan sau 10h")
    assert reply == "Đổi lịch Tư vấn da liễu từ 09:00 thứ Bảy 21/11 sang 10:00 thứ Hai 23/11 nhé?"
    reply = await chat.say("co")
    assert reply.startswith("Đã đổi lịch Tư vấn da liễu sang 10:00 thứ Hai 23/11")
    moved = await appointments(app, conversation.customer_id)
    assert [a["starts_at_local"] for a in moved] == ["2026-11-23T10:00:00+07:00"]

    reply = await chat.say("huy lich hen")
    assert "Huỷ lịch Tư vấn da liễu lúc 10:00 thứ Hai 23/11" in reply
    reply = await chat.say("co")
    assert reply.startswith("Đã huỷ lịch Tư vấn da liễu lúc 10:00 thứ Hai 23/11")
    assert [a["status"] for a in await appointments(app, conversation.customer_id)] == [
        "cancelled"
    ]
    reply = await chat.say("huỷ lịch hẹn")
    assert "không thấy lịch hẹn sắp tới" in reply


async def _book_for_someone_else(app: Harness, local_iso: str) -> None:
    from datetime import datetime

    from crm_core.booking.appointments import book
    from crm_core.models import Customer

    async with app.runtime.db.transaction() as session:
        other = Customer(name="Minh")
        session.add(other)
        await session.flush()
        await book(
            session,
            customer_id=other.id,
            service_key="skin_consultation",
            starts_at=datetime.fromisoformat(local_iso),
            rules=app.runtime.engine.flows.rules.booking,
            now=datetime.fromisoformat("2026-11-20T10:00:00+07:00"),
        )


async def test_taken_slot_offers_the_nearest_and_a_pick_books(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    await _book_for_someone_else(app, "2026-11-21T09:00:00+07:00")
    chat = TelegramChat(app, fake_telegram, user_id=4200000102)
    reply = await chat.say("Đặt lịch tư vấn da 9h sáng mai")
    assert reply.startswith("Rất tiếc, 09:00 thứ Bảy 21/11 đã có người đặt mất rồi ạ.")
    assert "09:30" in reply  # the nearest free start of that day (30 min consultation)
    await chat.say("số 1")  # the earliest alternative
    reply = await chat.say("0912345678")
    assert reply.startswith("Dịch vụ Tư vấn da liễu, ") and "21/11" in reply
    assert "09:00" not in reply


async def test_slot_taken_between_summary_and_yes(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    chat = TelegramChat(app, fake_telegram, user_id=4200000103)
    await chat.say("đặt lịch tư vấn da 10h sáng mai")
    reply = await chat.say("lan@example.com")
    assert reply.startswith("Dịch vụ Tư vấn da liễu, 10:00 thứ Bảy 21/11")
    await _book_for_someone_else(app, "2026-11-21T10:00:00+07:00")  # the race
    reply = await chat.say("có")
    assert reply.startswith("Rất tiếc, 10:00 thứ Bảy 21/11 đã có người đặt mất rồi ạ.")
    conversation = await chat.conversation()
    assert await appointments(app, conversation.customer_id) == []
    assert conversation.bot_state["flow"]["state"] == "time"


async def test_ambiguous_dates_ask_back(app: Harness, fake_telegram: FakeTelegram) -> None:
    chat = TelegramChat(app, fake_telegram, user_id=4200000104)
    reply = await chat.say("đặt lịch tư vấn da mai 9h hoặc thứ 6 10h")
    assert reply == "Bạn muốn đặt lúc 09:00 thứ Bảy 21/11 hay 10:00 thứ Sáu 27/11 ạ?"
    reply = await chat.say("thứ 6 tuần sau")  # a day without a time
    assert reply.startswith("Ngày thứ Sáu 27/11 còn trống các giờ: 09:00")
    reply = await chat.say("2")
    assert "điện thoại" in reply


async def test_thoi_leaves_the_flow_and_a_silent_flow_times_out(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    from datetime import timedelta

    chat = TelegramChat(app, fake_telegram, user_id=4200000105)
    reply = await chat.say("cho mình đặt lịch")
    assert "dịch vụ nào" in reply and "1. Tư vấn da liễu — 30 phút, 300.000đ" in reply
    reply = await chat.say("thôi")
    assert reply.startswith("Dạ vâng, mình đã dừng việc đặt lịch rồi ạ.")
    assert "flow" not in (await chat.conversation()).bot_state

    await chat.say("đặt lịch khám da")
    chat.now += timedelta(minutes=31)
    reply = await chat.say("xin chào")
    assert reply.startswith("Phần việc đặt lịch lúc nãy đã tạm đóng")
    assert "flow" not in (await chat.conversation()).bot_state


async def test_stop_it_in_english_and_a_human_from_inside_a_flow(
    app: Harness, fake_telegram: FakeTelegram
) -> None:
    chat = TelegramChat(app, fake_telegram, user_id=4200000106, first="Emily")
    reply = await chat.say("I'd like to book a consultation")
    assert "Which service" in reply and "Skin consultation — 30 min, 300,000 VND" in reply
    reply = await chat.say("stop it")
    assert reply.startswith("Sure, I've stopped the booking.")
    await chat.say("book a facial tomorrow")
    reply = await chat.say("I want to talk to a human")
    conversation = await chat.conversation()
    assert conversation.status == "waiting_agent" and "flow" not in conversation.bot_state
    assert "staff" in reply
