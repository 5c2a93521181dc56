"""`run_due` against a real database: confirmations, reminders, no-shows and receipts, each once.

The helpers at the top seed customers, conversations and appointments with explicit times, so
every test is pinned to NOW (10:00 in Ho Chi Minh City) whatever the wall clock says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_core.automation import AutomationRules, run_due
from crm_core.db import Database
from crm_core.files import file_id_of
from crm_core.models import (
    Appointment,
    AutomationRun,
    ContactPoint,
    Conversation,
    Customer,
    Identity,
    Message,
    Purchase,
    Service,
    StoredFile,
    TimelineEvent,
)
from crm_core.outreach import QuietHours

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # Friday 10:00 in Asia/Ho_Chi_Minh
TZ = "Asia/Ho_Chi_Minh"
ALL_ON = frozenset({"telegram", "zalo", "webchat", "sms", "email"})


def rules(channels: frozenset[str] = ALL_ON, quiet: str = "21:00-08:00") -> AutomationRules:
    return AutomationRules(
        channels=channels,
        reminder_hours=(24.0, 2.0),
        quiet_hours=QuietHours.parse(quiet, timezone=TZ),
        no_show_grace=timedelta(minutes=30),
        timezone=TZ,
        business_name="Omni Spa & Clinic",
        organizer_email="support@omnispa.example",
    )


@dataclass(frozen=True)
class Seeded:
    customer_id: str
    identity_id: str
    conversation_id: str


async def seed_customer(
    db: Database,
    *,
    channel: str = "telegram",
    external_id: str = "4200000001",
    language: str | None = "vi",
    name: str | None = "Lan",
    phone: str | None = None,
    email: str | None = None,
    last_inbound_at: datetime | None = None,
    opted_out: bool = False,
) -> Seeded:
    """A customer who wrote once on `channel` (at `last_inbound_at`, default an hour ago)."""
    wrote = last_inbound_at or NOW - timedelta(hours=1)
    async with db.transaction() as session:
        customer = Customer(name=name, language=language)
        session.add(customer)
        await session.flush()
        identity = Identity(
            customer_id=customer.id,
            channel=channel,
            external_id=external_id,
            opted_out_at=NOW - timedelta(days=1) if opted_out else None,
        )
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            customer_id=customer.id,
            identity_id=identity.id,
            channel=channel,
            status="bot",
            bot_state={},
            created_at=wrote,
            last_message_at=wrote,
        )
        session.add(conversation)
        await session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                customer_id=customer.id,
                channel=channel,
                direction="in",
                author_type="customer",
                text="xin chào",
                attachments=[],
                status="received",
                created_at=wrote,
            )
        )
        for kind, value in (("phone", phone), ("email", email)):
            if value:
                session.add(
                    ContactPoint(customer_id=customer.id, kind=kind, value=value, verified=True)
                )
        return Seeded(customer.id, identity.id, conversation.id)


async def seed_service(db: Database) -> str:
    async with db.transaction() as session:
        service = Service(
            key="skin_consultation",
            name_vi="Tư vấn da liễu",
            name_en="Skin consultation",
            duration_minutes=30,
            price=300_000,
        )
        session.add(service)
        await session.flush()
        return service.id


async def seed_appointment(
    db: Database,
    who: Seeded,
    service_id: str,
    *,
    starts_at: datetime,
    channel: str | None = "telegram",
    created_at: datetime | None = None,
    status: str = "booked",
) -> str:
    made = created_at or NOW - timedelta(days=3)
    async with db.transaction() as session:
        appointment = Appointment(
            customer_id=who.customer_id,
            conversation_id=who.conversation_id,
            service_id=service_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            status=status,
            channel=channel,
            created_at=made,
            updated_at=made,
        )
        session.add(appointment)
        await session.flush()
        return appointment.id


async def outbound(db: Database, customer_id: str | None = None) -> list[Message]:
    stmt = select(Message).where(Message.direction == "out").order_by(Message.created_at)
    if customer_id:
        stmt = stmt.where(Message.customer_id == customer_id)
    async with db.reading() as session:
        return list((await session.execute(stmt)).scalars())


async def runs(db: Database) -> dict[str, AutomationRun]:
    async with db.reading() as session:
        rows = (await session.execute(select(AutomationRun))).scalars()
        return {row.key: row for row in rows}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


# --- reminders ---------------------------------------------------------------------------------


async def test_the_24h_reminder_goes_once_in_the_customers_language(db: Database) -> None:
    who = await seed_customer(db, language="en")
    service = await seed_service(db)
    await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=23, minutes=50))
    first = await run_due(db, now=NOW, rules=rules())
    assert first.count("reminder", "queued") == 1
    [message] = await outbound(db)
    assert message.channel == "telegram" and message.author_type == "system"
    assert message.status == "queued"
    assert "Reminder" in message.text and "Skin consultation" in message.text
    assert "Saturday 21 Nov 2026, 09:50" in message.text  # local time in TIMEZONE
    second = await run_due(db, now=NOW + timedelta(minutes=1), rules=rules())
    assert second.total_queued == 0
    assert len(await outbound(db)) == 1


async def test_vietnamese_is_the_default_language(db: Database) -> None:
    who = await seed_customer(db, language=None)
    service = await seed_service(db)
    await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=2))
    await run_due(db, now=NOW, rules=rules())
    [message] = await outbound(db)
    assert message.text.startswith("Nhắc lịch hẹn: Tư vấn da liễu lúc 12:00 thứ Sáu, 20/11/2026")


async def test_not_yet_due_and_already_started_send_nothing(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=24, minutes=1))
    await seed_appointment(db, who, service, starts_at=NOW - timedelta(minutes=5))
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("reminder", "queued") == 0
    assert await outbound(db) == []


async def test_when_both_are_due_only_the_latest_goes(db: Database) -> None:
    """After downtime the 24 h and the 2 h reminder are both due: one message, not two."""
    who = await seed_customer(db)
    service = await seed_service(db)
    appointment = await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=1))
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("reminder", "queued") == 1
    assert report.count("reminder", "skipped") == 1
    assert len(await outbound(db)) == 1
    keyed = await runs(db)
    [sent] = [k for k in keyed if k.startswith(f"reminder:2h:{appointment}@")]
    [superseded] = [k for k in keyed if k.startswith(f"reminder:24h:{appointment}@")]
    assert keyed[sent].outcome == "queued" and keyed[superseded].outcome == "skipped"


async def test_a_booking_made_inside_the_window_gets_no_24h_reminder(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    await seed_appointment(
        db,
        who,
        service,
        starts_at=NOW + timedelta(hours=5),
        created_at=NOW - timedelta(minutes=10),
    )
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("reminder", "queued") == 0


async def test_cancelled_appointments_are_not_reminded(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    await seed_appointment(
        db, who, service, starts_at=NOW + timedelta(hours=2), status="cancelled"
    )
    assert (await run_due(db, now=NOW, rules=rules())).total_queued == 0


async def test_a_rescheduled_appointment_is_reminded_of_its_new_time(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    appointment = await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=2))
    await run_due(db, now=NOW, rules=rules())
    async with db.transaction() as session:
        row = await session.get_one(Appointment, appointment)
        row.starts_at = NOW + timedelta(hours=3)
        row.ends_at = row.starts_at + timedelta(minutes=30)
    later = await run_due(db, now=NOW + timedelta(hours=1), rules=rules())
    assert later.count("reminder", "queued") == 1
    texts = [m.text for m in await outbound(db)]
    assert len(texts) == 2 and "12:00" in texts[0] and "13:00" in texts[1]


async def test_quiet_hours_defer_until_they_end(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 09:00 local
    night = start - timedelta(hours=2)  # 07:00 local: the 2 h reminder is due, but it is quiet
    await seed_appointment(db, who, service, starts_at=start)
    deferred = await run_due(db, now=night, rules=rules())
    assert deferred.count("reminder", "deferred") == 1
    assert await outbound(db) == []
    assert not [key for key in await runs(db) if key.startswith("reminder:")]  # not claimed
    morning = await run_due(db, now=night + timedelta(hours=1, minutes=1), rules=rules())
    assert morning.count("reminder", "queued") == 1


# --- channel choice and fallback ---------------------------------------------------------------


async def test_zalo_window_closed_falls_back_to_sms(db: Database) -> None:
    who = await seed_customer(
        db,
        channel="zalo",
        external_id="zalo-user-1",
        phone="+84912345678",
        last_inbound_at=NOW - timedelta(days=3),
    )
    service = await seed_service(db)
    await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=2), channel="zalo")
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("reminder", "queued") == 1
    [message] = await outbound(db)
    assert message.channel == "sms"
    async with db.reading() as session:
        conversation = await session.get_one(Conversation, message.conversation_id)
        identity = await session.get_one(Identity, conversation.identity_id)
    assert (identity.channel, identity.external_id) == ("sms", "+84912345678")
    assert identity.customer_id == who.customer_id


async def test_opted_out_telegram_falls_back_to_email(db: Database) -> None:
    who = await seed_customer(db, opted_out=True, email="lan@example.vn")
    service = await seed_service(db)
    await seed_appointment(db, who, service, starts_at=NOW + timedelta(hours=2))
    await run_due(db, now=NOW, rules=rules(ALL_ON - {"sms"}))
    messages = await outbound(db)
    assert [m.channel for m in messages if m.meta.get("automation") == "reminder"] == ["email"]
    assert all(m.channel != "telegram" for m in messages)


async def test_nobody_reachable_is_skipped_once_and_on_the_timeline(db: Database) -> None:
    who = await seed_customer(db, opted_out=True)
    service = await seed_service(db)
    appointment = await seed_appointment(
        db, who, service, starts_at=NOW + timedelta(hours=2), created_at=NOW - timedelta(hours=3)
    )
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("reminder", "skipped") == 1
    assert await outbound(db) == []
    [run] = [r for k, r in (await runs(db)).items() if k.startswith("reminder:2h")]
    assert run.outcome == "skipped" and "opted out" in run.data["why"]
    async with db.reading() as session:
        kinds = (
            await session.execute(
                select(TimelineEvent.kind).where(TimelineEvent.customer_id == who.customer_id)
            )
        ).scalars()
        assert "proactive_skipped" in set(kinds)
    again = await run_due(db, now=NOW, rules=rules())
    assert again.count("reminder", "skipped") == 0
    assert appointment


# --- confirmations -----------------------------------------------------------------------------


async def test_confirmation_email_carries_the_ics_invitation(db: Database) -> None:
    who = await seed_customer(db, email="lan@example.vn")
    service = await seed_service(db)
    appointment = await seed_appointment(
        db, who, service, starts_at=NOW + timedelta(days=3), created_at=NOW - timedelta(minutes=1)
    )
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("confirmation_email", "queued") == 1
    # Booked in the Telegram dialogue, which already said "booked": no second chat message.
    assert report.count("confirmation", "skipped") == 1
    [mail] = await outbound(db)
    assert mail.channel == "email" and "Mã lịch hẹn: " + appointment in mail.text
    [attachment] = mail.attachments
    assert attachment["mime_type"] == "text/calendar"
    async with db.reading() as session:
        stored = await session.get_one(StoredFile, file_id_of(attachment["ref"]) or "")
    assert stored.data.startswith(b"BEGIN:VCALENDAR") and b"METHOD:REQUEST" in stored.data
    assert f"appointment-{appointment}@omnispa.example".encode() in stored.data
    assert (await run_due(db, now=NOW, rules=rules())).total_queued == 0


async def test_a_booking_made_outside_a_dialogue_is_confirmed_on_the_chat(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    await seed_appointment(
        db,
        who,
        service,
        starts_at=NOW + timedelta(days=3),
        channel=None,
        created_at=NOW - timedelta(minutes=1),
    )
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("confirmation", "queued") == 1
    assert report.count("confirmation_email", "skipped") == 1  # no address known
    [message] = await outbound(db)
    assert message.channel == "telegram" and "đã được xác nhận" in message.text


async def test_no_email_channel_means_no_orphan_invitation_file(db: Database) -> None:
    who = await seed_customer(db, email="lan@example.vn")
    service = await seed_service(db)
    await seed_appointment(db, who, service, starts_at=NOW + timedelta(days=3))
    report = await run_due(db, now=NOW, rules=rules(ALL_ON - {"email"}))
    assert report.count("confirmation_email", "skipped") == 1
    async with db.reading() as session:
        assert (await session.execute(select(StoredFile))).first() is None


# --- no-shows ----------------------------------------------------------------------------------


async def test_no_show_marking_after_the_grace(db: Database) -> None:
    who = await seed_customer(db)
    service = await seed_service(db)
    late = await seed_appointment(db, who, service, starts_at=NOW - timedelta(minutes=61))
    grace = await seed_appointment(db, who, service, starts_at=NOW - timedelta(minutes=59))
    done = await seed_appointment(
        db, who, service, starts_at=NOW - timedelta(hours=3), status="completed"
    )
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("no_show", "marked") == 1
    async with db.reading() as session:
        statuses = {
            a.id: a.status
            for a in (await session.execute(select(Appointment))).scalars()
            if a.id in (late, grace, done)
        }
        events = (
            await session.execute(
                select(TimelineEvent).where(TimelineEvent.kind == "appointment_no_show")
            )
        ).scalars()
        assert [e.data["appointment_id"] for e in events] == [late]
    assert statuses == {late: "no_show", grace: "booked", done: "completed"}
    assert (await run_due(db, now=NOW, rules=rules())).count("no_show", "marked") == 0


# --- receipts ----------------------------------------------------------------------------------


async def _purchase(db: Database, customer_id: str, *, at: datetime = NOW) -> str:
    async with db.transaction() as session:
        purchase = Purchase(
            customer_id=customer_id,
            description="Chăm sóc da mặt cơ bản",
            amount=450_000,
            currency="VND",
            items=[{"name": "Facial", "quantity": 1, "amount": 450_000}],
            external_id=None,
            purchased_at=at,
            created_at=at,
        )
        session.add(purchase)
        await session.flush()
        return purchase.id


async def test_receipt_by_email_once_and_skipped_without_an_address(db: Database) -> None:
    known = await seed_customer(db, email="lan@example.vn")
    unknown = await seed_customer(db, external_id="4200000002")
    with_mail = await _purchase(db, known.customer_id)
    without = await _purchase(db, unknown.customer_id)
    report = await run_due(db, now=NOW + timedelta(minutes=1), rules=rules())
    assert report.count("receipt", "queued") == 1 and report.count("receipt", "skipped") == 1
    [mail] = await outbound(db)
    assert mail.channel == "email" and "450.000 VND" in mail.text
    keyed = await runs(db)
    assert keyed[f"receipt:{with_mail}"].outcome == "queued"
    assert keyed[f"receipt:{without}"].outcome == "skipped"
    assert (await run_due(db, now=NOW + timedelta(minutes=2), rules=rules())).total_queued == 0


async def test_old_purchases_get_no_receipt(db: Database) -> None:
    known = await seed_customer(db, email="lan@example.vn")
    await _purchase(db, known.customer_id, at=NOW - timedelta(days=5))
    assert (await run_due(db, now=NOW, rules=rules())).count("receipt", "queued") == 0


async def test_two_workers_at_once_send_each_reminder_once(
    db: Database, database_url: str
) -> None:
    service = await seed_service(db)
    for n in range(6):
        who = await seed_customer(db, external_id=f"42000000{n:02d}")
        await seed_appointment(
            db,
            who,
            service,
            starts_at=NOW + timedelta(hours=2),
            created_at=NOW - timedelta(hours=3),
        )
    other = Database(database_url)  # a second process, as far as the database can tell
    try:
        reports = await asyncio.gather(
            run_due(db, now=NOW, rules=rules()), run_due(other, now=NOW, rules=rules())
        )
    finally:
        await other.dispose()
    assert sum(r.count("reminder", "queued") for r in reports) == 6
    assert len(await outbound(db)) == 6


async def test_many_due_appointments_are_all_reached(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in pages: appointments already handled must not hide the ones after them."""
    from crm_core.automation import appointments

    monkeypatch.setattr(appointments, "BATCH", 2)
    service = await seed_service(db)
    for n in range(5):
        who = await seed_customer(db, external_id=f"43000000{n:02d}")
        await seed_appointment(
            db,
            who,
            service,
            starts_at=NOW + timedelta(hours=2) - timedelta(minutes=n),
            created_at=NOW - timedelta(hours=3),
        )
    report = await run_due(db, now=NOW, rules=rules())
    assert report.count("reminder", "queued") == 5
