"""Bookings against a real database (SQLite, and PostgreSQL when configured): slots across
hours, holidays, time off, buffers, lead, horizon and zones; booking, rescheduling, cancelling;
and the guarantee that a slot is booked once, also under 20 concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm_core import booking
from crm_core.booking import calendar as cal
from crm_core.db import Database
from crm_core.models import (
    Appointment,
    AppointmentSlot,
    Customer,
    Holiday,
    Service,
    StaffMember,
    StaffTimeOff,
    TimelineEvent,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=HCM)  # a Monday, 08:00 local
TUESDAY = date(2026, 11, 24)
RULES = booking.BookingRules.build(
    timezone="Asia/Ho_Chi_Minh",
    hours="mon-sat 09:00-19:00",
    slot_minutes=15,
    lead_minutes=60,
    horizon_days=30,
)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=HCM)


def hm(slots: list[booking.Slot]) -> list[str]:
    return [s.starts_at.astimezone(HCM).strftime("%H:%M") for s in slots]


@dataclass
class World:
    db: Database
    customers: list[str]
    doctor: str  # the only one giving "consult" (mon-fri 09:00-17:00)
    therapists: list[str]  # both give "facial" (60 min + 15 buffer), booking hours


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db = Database(database_url)
    async with db.transaction() as s:
        s.add_all(
            [
                Service(
                    key="consult",
                    name_vi="Khám da",
                    name_en="Consult",
                    duration_minutes=30,
                    price=300_000,
                    aliases=["kham da", "dermatologist"],
                ),
                Service(
                    key="facial",
                    name_vi="Chăm sóc da mặt",
                    name_en="Facial",
                    duration_minutes=60,
                    price=450_000,
                    buffer_minutes=15,
                ),
                Service(
                    key="sauna",
                    name_vi="Xông hơi",
                    name_en="Sauna",
                    duration_minutes=30,
                    price=100_000,
                    capacity=2,
                ),
                Service(
                    key="old",
                    name_vi="Cũ",
                    name_en="Old",
                    duration_minutes=30,
                    price=1,
                    active=False,
                ),
            ]
        )
        doctor = StaffMember(name="Dr Ha", services=["consult"], hours="mon-fri 09:00-17:00")
        t1 = StaffMember(name="Hoa", services=["facial"], created_at=NOW - timedelta(days=2))
        t2 = StaffMember(name="Tuan", services=["facial"], created_at=NOW - timedelta(days=1))
        customers = [Customer(name=f"c{n}") for n in range(20)]
        s.add_all([doctor, t1, t2, *customers])
        await s.flush()
        world = World(db, [c.id for c in customers], doctor.id, [t1.id, t2.id])
    yield world
    await db.dispose()


async def slots_on(
    w: World, day: date, service: str = "consult", now: datetime = NOW, **kw: object
) -> list[booking.Slot]:
    async with w.db.reading() as s:
        return await booking.free_slots(
            s,
            service_key=service,
            day_from=at(day, 0),
            day_to=at(day + timedelta(days=1), 0),
            rules=RULES,
            now=now,
            **kw,  # type: ignore[arg-type]
        )


async def book(
    w: World,
    starts_at: datetime,
    service: str = "consult",
    customer: int = 0,
    now: datetime = NOW,
    **kw: object,
) -> Appointment:
    async with w.db.transaction() as s:
        return await booking.book(
            s,
            customer_id=w.customers[customer],
            service_key=service,
            starts_at=starts_at,
            rules=RULES,
            now=now,
            **kw,  # type: ignore[arg-type]
        )


async def slot_rows(w: World, appointment_id: str | None = None) -> list[tuple[str, datetime]]:
    stmt = select(AppointmentSlot.resource, AppointmentSlot.starts_at)
    if appointment_id:
        stmt = stmt.where(AppointmentSlot.appointment_id == appointment_id)
    async with w.db.reading() as s:
        return sorted((r, t) for r, t in (await s.execute(stmt)).all())


# --- availability --------------------------------------------------------------------------


async def test_slots_follow_the_grid_and_the_staff_members_hours(world: World) -> None:
    slots = await slots_on(world, TUESDAY)
    times = hm(slots)
    # The doctor works 09:00-17:00 (inside booking hours 09:00-19:00); 30 minutes must fit.
    assert times[0] == "09:00" and times[-1] == "16:30" and len(times) == 31
    assert times[:3] == ["09:00", "09:15", "09:30"]
    assert all(s.staff_id == world.doctor for s in slots)
    first = slots[0]
    assert first.starts_at == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # aware UTC
    assert first.starts_at.utcoffset() == timedelta(0)
    assert first.ends_at - first.starts_at == timedelta(minutes=30)


async def test_booking_hours_bound_staff_without_their_own(world: World) -> None:
    times = hm(await slots_on(world, TUESDAY, "facial"))
    assert times[0] == "09:00" and times[-1] == "18:00"  # 60 minutes end by 19:00
    saturday = TUESDAY + timedelta(days=4)
    assert await slots_on(world, saturday) == []  # the doctor works mon-fri
    assert hm(await slots_on(world, saturday, "facial"))[0] == "09:00"
    assert await slots_on(world, TUESDAY + timedelta(days=5), "facial") == []  # Sunday


async def test_holidays_close_the_day(world: World) -> None:
    async with world.db.transaction() as s:
        s.add(Holiday(day=TUESDAY, name="Test day"))
    assert await slots_on(world, TUESDAY) == []
    assert await slots_on(world, TUESDAY, "facial") == []
    assert len(await slots_on(world, TUESDAY + timedelta(days=1))) == 31


async def test_time_off_blocks_overlapping_starts(world: World) -> None:
    async with world.db.transaction() as s:
        s.add(
            StaffTimeOff(
                staff_id=world.doctor,
                starts_at=at(TUESDAY, 10),
                ends_at=at(TUESDAY, 11),
                reason="meeting",
            )
        )
    times = hm(await slots_on(world, TUESDAY))
    assert "09:30" in times  # ends 10:00, when the time off starts
    assert not {"09:45", "10:00", "10:30", "10:45"} & set(times)
    assert "11:00" in times


async def test_buffer_is_kept_after_each_appointment(world: World) -> None:
    first = await book(world, at(TUESDAY, 10), "facial", staff_id=world.therapists[0])
    assert [t.astimezone(HCM).strftime("%H:%M") for _, t in await slot_rows(world, first.id)] == [
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
    ]  # 60 minutes + 15 buffer
    times = hm(await slots_on(world, TUESDAY, "facial", staff_id=world.therapists[0]))
    assert "11:00" not in times and "11:15" in times  # the buffer after it
    assert "09:00" not in times and "08:45" not in times  # its own buffer would hit 10:00
    assert "08:45" not in times
    other = await slots_on(world, TUESDAY, "facial")
    ten = next(s for s in other if hm([s]) == ["10:00"])
    assert ten.staff_id == world.therapists[1]  # the other therapist is still free


async def test_lead_time_and_horizon(world: World) -> None:
    monday = NOW.date()
    late_morning = at(monday, 10, 7)
    assert hm(await slots_on(world, monday, now=late_morning))[0] == "11:15"
    assert hm(await slots_on(world, monday))[0] == "09:00"  # 08:00 + 60 minutes
    beyond = monday + timedelta(days=31)
    while beyond.weekday() > 4:
        beyond += timedelta(days=1)
    assert await slots_on(world, beyond) == []
    last_day = (NOW + timedelta(days=30)).date()  # a Wednesday; the horizon ends at 08:00
    assert await slots_on(world, last_day) == []
    assert len(await slots_on(world, last_day - timedelta(days=1))) == 31


async def test_horizon_cuts_the_last_day_at_the_same_clock_time(world: World) -> None:
    now = at(NOW.date(), 12)
    last_day = (now + timedelta(days=30)).date()
    times = hm(await slots_on(world, last_day, now=now))
    assert times[0] == "09:00" and times[-1] == "12:00"


async def test_grid_is_local_across_a_dst_change(database_url: str) -> None:
    db = Database(database_url)
    rules = booking.BookingRules.build(
        timezone="Europe/Berlin",
        hours="mon-sun 09:00-10:00",
        slot_minutes=30,
        lead_minutes=0,
        horizon_days=10,
    )
    async with db.transaction() as s:
        s.add(Service(key="x", name_vi="x", name_en="x", duration_minutes=30, price=1))
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)
    out = {}
    for day in (date(2026, 3, 28), date(2026, 3, 29)):  # summer time begins on the 29th
        async with db.reading() as s:
            slots = await booking.free_slots(
                s,
                service_key="x",
                rules=rules,
                now=now,
                day_from=datetime.combine(day, time(0), tzinfo=berlin),
                day_to=datetime.combine(day + timedelta(days=1), time(0), tzinfo=berlin),
            )
        out[day] = [sl.starts_at.strftime("%H:%M") for sl in slots]
    await db.dispose()
    assert out[date(2026, 3, 28)] == ["08:00", "08:30"]  # UTC+1
    assert out[date(2026, 3, 29)] == ["07:00", "07:30"]  # UTC+2: still 09:00 local


async def test_seats_when_no_staff_gives_the_service(world: World) -> None:
    start = at(TUESDAY, 9)
    one = await book(world, start, "sauna", customer=0)
    two = await book(world, start, "sauna", customer=1)
    assert one.staff_id is None and two.staff_id is None
    resources = {r for r, _ in await slot_rows(world)}
    assert len(resources) == 2 and all(r.startswith("service:") for r in resources)
    with pytest.raises(booking.SlotTaken):
        await book(world, start, "sauna", customer=2)
    assert "09:00" not in hm(await slots_on(world, TUESDAY, "sauna"))


async def test_nearest_slots_same_day_then_following_days(world: World) -> None:
    await book(world, at(TUESDAY, 10))
    async with world.db.reading() as s:
        near = await booking.nearest_slots(
            s, service_key="consult", around=at(TUESDAY, 10), rules=RULES, now=NOW
        )
        assert hm(near) == ["09:15", "09:30", "10:30"]
        late = await booking.nearest_slots(
            s, service_key="consult", around=at(TUESDAY, 16, 30), rules=RULES, limit=3, now=NOW
        )
        assert hm(late) == ["16:00", "16:15", "16:30"]
        assert await booking.is_free(
            s, service_key="consult", starts_at=at(TUESDAY, 10, 30), rules=RULES, now=NOW
        )
        assert not await booking.is_free(
            s, service_key="consult", starts_at=at(TUESDAY, 10), rules=RULES, now=NOW
        )
    async with world.db.transaction() as s:
        s.add(Holiday(day=TUESDAY + timedelta(days=1), name="closed"))
    saturday = TUESDAY + timedelta(days=4)  # the doctor does not work weekends
    async with world.db.reading() as s:
        later = await booking.nearest_slots(
            s, service_key="consult", around=at(saturday, 10), rules=RULES, now=NOW
        )
    assert [sl.starts_at.astimezone(HCM).strftime("%a %H:%M") for sl in later] == [
        "Mon 09:00",
        "Mon 09:15",
        "Mon 09:30",
    ]


async def test_unknown_and_inactive_services(world: World) -> None:
    for key in ("nope", "old"):
        with pytest.raises(booking.UnknownService):
            await slots_on(world, TUESDAY, key)
        with pytest.raises(booking.UnknownService):
            await book(world, at(TUESDAY, 9), key)
    with pytest.raises(booking.UnknownStaff):
        await slots_on(world, TUESDAY, staff_id=world.therapists[0])  # does not give consult


async def test_find_service_by_alias_without_diacritics(world: World) -> None:
    async with world.db.reading() as s:
        assert (await booking.find_service(s, "Khám da")).key == "consult"  # type: ignore[union-attr]
        assert (await booking.find_service(s, "toi muon kham da mai")).key == "consult"  # type: ignore[union-attr]
        assert (await booking.find_service(s, "cham soc da mat")).key == "facial"  # type: ignore[union-attr]
        assert await booking.find_service(s, "old") is None  # inactive
        assert await booking.find_service(s, "bánh mì") is None


# --- booking -------------------------------------------------------------------------------


async def test_book_reserves_units_and_records_the_timeline(world: World) -> None:
    appt = await book(world, at(TUESDAY, 9, 30), channel="telegram", notes="first visit")
    assert appt.status == "booked" and appt.staff_id == world.doctor
    assert appt.starts_at == at(TUESDAY, 9, 30)
    assert appt.ends_at == at(TUESDAY, 10)
    assert await slot_rows(world, appt.id) == [
        (f"staff:{world.doctor}", at(TUESDAY, 9, 30).astimezone(UTC)),
        (f"staff:{world.doctor}", at(TUESDAY, 9, 45).astimezone(UTC)),
    ]
    async with world.db.reading() as s:
        event = await s.scalar(
            select(TimelineEvent).where(TimelineEvent.kind == "appointment_booked")
        )
    assert event is not None and event.data["appointment_id"] == appt.id
    assert event.data["service"] == "consult" and event.customer_id == world.customers[0]


@pytest.mark.parametrize(
    ("when", "now", "reason"),
    [
        (at(TUESDAY, 8, 45), NOW, "outside_hours"),
        (at(TUESDAY, 18, 45), NOW, "outside_hours"),  # would end after 19:00
        (at(TUESDAY + timedelta(days=5), 10), NOW, "outside_hours"),  # Sunday
        (at(TUESDAY, 9, 10), NOW, "off_grid"),
        (at(NOW.date(), 8, 45), NOW, "too_soon"),
        (at(TUESDAY, 9), at(TUESDAY, 8, 30), "too_soon"),
        (at(NOW.date() + timedelta(days=31), 10), NOW, "too_far"),
        (at(TUESDAY, 17), NOW, "staff_unavailable"),  # the doctor leaves at 17:00
    ],
)
async def test_not_bookable_says_why(
    world: World, when: datetime, now: datetime, reason: str
) -> None:
    with pytest.raises(booking.NotBookable) as caught:
        await book(world, when, now=now)
    assert caught.value.reason == reason
    assert await slot_rows(world) == []


async def test_holiday_is_not_bookable(world: World) -> None:
    async with world.db.transaction() as s:
        s.add(Holiday(day=TUESDAY, name="closed"))
    with pytest.raises(booking.NotBookable) as caught:
        await book(world, at(TUESDAY, 10))
    assert caught.value.reason == "holiday"


async def test_taken_slot_offers_the_nearest_alternatives(world: World) -> None:
    await book(world, at(TUESDAY, 10))
    with pytest.raises(booking.SlotTaken) as caught:
        await book(world, at(TUESDAY, 10, 15), customer=1)  # overlaps 10:00-10:30
    assert hm(caught.value.alternatives) == ["09:30", "10:30", "10:45"]
    async with world.db.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Appointment)) == 1


async def test_two_therapists_then_taken(world: World) -> None:
    first = await book(world, at(TUESDAY, 11), "facial", customer=0)
    second = await book(world, at(TUESDAY, 11), "facial", customer=1)
    assert [first.staff_id, second.staff_id] == world.therapists  # first free, in order
    with pytest.raises(booking.SlotTaken):
        await book(world, at(TUESDAY, 11, 45), "facial", customer=2)  # inside both buffers


async def test_the_key_decides_even_when_the_read_is_stale(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads are advice; a booking that believes a taken slot is free still fails."""
    await book(world, at(TUESDAY, 10))
    monkeypatch.setattr(cal.Calendar, "resource_refusal", lambda self, r, t: None)
    with pytest.raises(booking.SlotTaken):
        await book(world, at(TUESDAY, 10, 15), customer=1)
    assert len(await slot_rows(world)) == 2


async def test_reschedule_moves_the_units(world: World) -> None:
    appt = await book(world, at(TUESDAY, 10))
    async with world.db.transaction() as s:
        moved = await booking.reschedule(
            s, appt.id, starts_at=at(TUESDAY, 10, 15), rules=RULES, now=NOW
        )  # overlaps its own old time
    assert moved.starts_at == at(TUESDAY, 10, 15) and moved.ends_at == at(TUESDAY, 10, 45)
    times = [t.astimezone(HCM).strftime("%H:%M") for _, t in await slot_rows(world, appt.id)]
    assert times == ["10:15", "10:30"]
    assert "10:00" not in hm(await slots_on(world, TUESDAY))  # 10:00-10:30 hits 10:15
    assert "09:45" in hm(await slots_on(world, TUESDAY))
    async with world.db.reading() as s:
        kinds = list((await s.execute(select(TimelineEvent.kind))).scalars())
    assert "appointment_rescheduled" in kinds


async def test_reschedule_to_a_taken_slot_keeps_the_old_booking(world: World) -> None:
    mine = await book(world, at(TUESDAY, 10))
    await book(world, at(TUESDAY, 14), customer=1)
    before = await slot_rows(world, mine.id)
    async with world.db.transaction() as s:
        with pytest.raises(booking.SlotTaken) as caught:
            await booking.reschedule(s, mine.id, starts_at=at(TUESDAY, 14), rules=RULES, now=NOW)
        assert caught.value.alternatives
        again = await s.get(Appointment, mine.id)
        assert again is not None and again.starts_at == at(TUESDAY, 10)
    assert await slot_rows(world, mine.id) == before
    async with world.db.transaction() as s:
        with pytest.raises(booking.NotBookable):
            await booking.reschedule(s, mine.id, starts_at=at(TUESDAY, 20), rules=RULES, now=NOW)
    assert await slot_rows(world, mine.id) == before
    async with world.db.reading() as s:
        appt = await s.get(Appointment, mine.id)
    assert appt is not None and appt.starts_at == at(TUESDAY, 10) and appt.status == "booked"


async def test_cancel_frees_the_slot_and_mark_closes(world: World) -> None:
    appt = await book(world, at(TUESDAY, 10))
    async with world.db.transaction() as s:
        cancelled = await booking.cancel(s, appt.id, actor_type="customer", reason="sick")
        assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
        await booking.cancel(s, appt.id, actor_type="customer")  # twice: no error
    assert await slot_rows(world) == []
    again = await book(world, at(TUESDAY, 10), customer=1)  # the slot is free again
    async with world.db.transaction() as s:
        done = await booking.mark(s, again.id, "completed", actor_type="agent")
        assert done.status == "completed"
        with pytest.raises(booking.NotBookable):
            await booking.cancel(s, again.id, actor_type="customer")
        with pytest.raises(booking.NotBookable):
            await booking.mark(s, again.id, "booked")
        with pytest.raises(booking.NotBookable):
            await booking.reschedule(s, again.id, starts_at=at(TUESDAY, 11), rules=RULES, now=NOW)
        with pytest.raises(booking.AppointmentNotFound):
            await booking.cancel(s, "missing", actor_type="customer")
        kinds = list((await s.execute(select(TimelineEvent.kind))).scalars())
    assert {"appointment_cancelled", "appointment_completed"} <= set(kinds)


async def test_upcoming_lists_booked_future_appointments(world: World) -> None:
    later = await book(world, at(TUESDAY + timedelta(days=1), 9))
    sooner = await book(world, at(TUESDAY, 9))
    gone = await book(world, at(TUESDAY, 11))
    await book(world, at(TUESDAY, 12), customer=1)
    async with world.db.transaction() as s:
        await booking.cancel(s, gone.id, actor_type="customer")
        ids = [a.id for a in await booking.upcoming(s, world.customers[0], now=NOW)]
        assert ids == [sooner.id, later.id]
        after = await booking.upcoming(s, world.customers[0], now=at(TUESDAY, 10))
        assert [a.id for a in after] == [later.id]


# --- the guarantee under concurrency -------------------------------------------------------


@pytest.mark.parametrize("stale_reads", [False, True], ids=["reads", "stale-reads"])
async def test_twenty_concurrent_bookings_of_one_slot_one_wins(
    world: World, monkeypatch: pytest.MonkeyPatch, stale_reads: bool
) -> None:
    """20 customers, separate transactions, the same doctor at the same time: exactly one
    appointment. With stale reads every request believes the slot is free and goes to the key."""
    if stale_reads:
        monkeypatch.setattr(cal.Calendar, "resource_refusal", lambda self, r, t: None)
    start = at(TUESDAY, 10)
    gate = asyncio.Event()

    async def attempt(n: int) -> str:
        await gate.wait()
        try:
            await book(world, start, customer=n)
        except booking.SlotTaken:
            return "taken"
        return "booked"

    tasks = [asyncio.create_task(attempt(n)) for n in range(20)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*tasks)
    assert outcomes.count("booked") == 1 and outcomes.count("taken") == 19
    async with world.db.reading() as s:
        booked = await s.scalar(select(func.count()).select_from(Appointment))
    assert booked == 1
    assert len(await slot_rows(world)) == 2  # 30 minutes = two units, once


# --- demo data -----------------------------------------------------------------------------


async def test_demo_seed_adds_bookable_staff_once(database_url: str) -> None:
    from crm_core import demo

    db = Database(database_url)
    try:
        for _ in range(2):
            async with db.transaction() as s:
                await demo.seed(s)
        async with db.reading() as s:
            staff = list((await s.execute(select(StaffMember))).scalars())
            holidays = await s.scalar(select(func.count()).select_from(Holiday))
            appointments = list((await s.execute(select(Appointment))).scalars())
            consult = await booking.find_service(s, "tu van da lieu")
            massage = await booking.find_service(s, "mát xa body")
        assert len(staff) == 3 and holidays == 8
        assert len(appointments) == 1 and appointments[0].status == "booked"
        assert appointments[0].starts_at.astimezone(HCM).strftime("%H:%M") == "10:00"
        assert consult is not None and consult.key == "skin_consultation"
        assert massage is not None and massage.key == "body_massage"
        assert massage.buffer_minutes == 15
    finally:
        await db.dispose()
