"""Demo data: a service catalogue with staff, holidays and aliases, customers with purchases,
past conversations and an upcoming appointment, an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import booking, timeline
from crm_core.auth import create_agent
from crm_core.enums import ConversationStatus, Role
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    Holiday,
    Identity,
    Message,
    Purchase,
    Service,
    StaffMember,
)
from crm_core.types import utcnow

DEMO_AGENT_EMAIL = "agent@demo.omnicrm.local"
DEMO_AGENT_PASSWORD = "demo-agent-password"

SERVICES = [
    ("skin_consultation", "Tư vấn da liễu", "Skin consultation", 30, 300_000),
    ("facial_basic", "Chăm sóc da mặt cơ bản", "Basic facial", 60, 450_000),
    ("acne_treatment", "Điều trị mụn chuyên sâu", "Acne treatment", 90, 1_200_000),
    ("body_massage", "Massage body thư giãn", "Relaxing body massage", 60, 550_000),
]

# Minutes kept free after each service, and how customers name it (with and without diacritics).
BOOKING_DETAILS: dict[str, tuple[int, list[str]]] = {
    "skin_consultation": (
        0,
        ["khám da", "kham da", "tư vấn da", "tu van da", "da liễu", "da lieu", "skin check"],
    ),
    "facial_basic": (
        15,
        ["chăm sóc da mặt", "cham soc da mat", "chăm sóc da", "cham soc da", "facial"],
    ),
    "acne_treatment": (
        15,
        ["điều trị mụn", "dieu tri mun", "trị mụn", "tri mun", "mụn", "mun", "acne"],
    ),
    "body_massage": (15, ["mát xa", "mat xa", "massage", "body massage", "massage body"]),
}

STAFF = [  # name, services, own hours ("" = the booking hours)
    ("BS. Phạm Thu Hà", ["skin_consultation", "acne_treatment"], "mon-fri 09:00-17:00"),
    ("Chị Hoa", ["facial_basic", "body_massage"], ""),
    ("Anh Tuấn", ["body_massage", "facial_basic"], "tue-sat 12:00-19:00"),
]

HOLIDAYS = [  # (month, day, name): Vietnamese public holidays on fixed dates
    (1, 1, "Tết Dương lịch / New Year's Day"),
    (4, 30, "Ngày Giải phóng miền Nam / Reunification Day"),
    (5, 1, "Quốc tế Lao động / Labour Day"),
    (9, 2, "Quốc khánh / National Day"),
]

UPCOMING_FOR = "Nguyễn Thị Lan"  # gets a skin consultation in a few days


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    language: str
    stage: str
    phone: str | None
    email: str | None
    identity: tuple[str, str]
    purchases: tuple[tuple[str, int, int], ...]  # description, amount, days ago
    history: tuple[tuple[str, str], ...]  # author_type, text


CUSTOMERS = [
    DemoCustomer(
        name="Nguyễn Thị Lan",
        language="vi",
        stage="loyal",
        phone="+84912345678",
        email="lan.nguyen@example.com",
        identity=("telegram", "4200000001"),
        purchases=(
            ("Chăm sóc da mặt cơ bản", 450_000, 40),
            ("Điều trị mụn chuyên sâu", 1_200_000, 12),
        ),
        history=(
            ("customer", "Chào shop, cho mình hỏi giờ mở cửa ạ"),
            ("bot", "Omni Spa & Clinic mở cửa từ 8:00 đến 20:00 tất cả các ngày trong tuần."),
            ("customer", "Cảm ơn nhé"),
        ),
    ),
    DemoCustomer(
        name="Trần Văn Minh",
        language="vi",
        stage="customer",
        phone="+84987654321",
        email=None,
        identity=("webchat", "demo-session-minh"),
        purchases=(("Massage body thư giãn", 550_000, 5),),
        history=(
            ("customer", "toi muon dat lich massage"),
            ("bot", "Dạ, đồng nghiệp của em sẽ hỗ trợ anh/chị đặt lịch ngay ạ."),
        ),
    ),
    DemoCustomer(
        name="Emily Carter",
        language="en",
        stage="prospect",
        phone=None,
        email="emily.carter@example.com",
        identity=("telegram", "4200000002"),
        purchases=(),
        history=(
            ("customer", "Hi, how much is a skin consultation?"),
            ("bot", "A skin consultation costs 300,000 VND and takes about 30 minutes."),
        ),
    ),
]


async def seed(session: AsyncSession, rules: booking.BookingRules | None = None) -> bool:
    """Insert the demo data once; returns False when it was already there (the booking
    details are still completed, so an older demo database gains staff and holidays)."""
    exists = await session.execute(select(Service.id).where(Service.key == SERVICES[0][0]))
    if exists.first() is not None:
        await seed_bookings(session, rules)
        return False
    for key, name_vi, name_en, minutes, price in SERVICES:
        session.add(
            Service(
                key=key, name_vi=name_vi, name_en=name_en, duration_minutes=minutes, price=price
            )
        )
    for demo in CUSTOMERS:
        await _seed_customer(session, demo)
    await create_agent(
        session,
        email=DEMO_AGENT_EMAIL,
        role=Role.AGENT,
        password=DEMO_AGENT_PASSWORD,
        name="Demo Agent",
    )
    await seed_bookings(session, rules)
    return True


async def seed_bookings(session: AsyncSession, rules: booking.BookingRules | None = None) -> None:
    """Buffers, aliases, staff, holidays and one upcoming appointment; each only when missing."""
    rules = rules or booking.BookingRules.build()
    await session.flush()
    for service in (await session.execute(select(Service))).scalars():
        buffer, aliases = BOOKING_DETAILS.get(service.key, (None, []))
        if buffer is not None and not service.aliases:
            service.buffer_minutes = buffer
            service.aliases = aliases
    known = set((await session.execute(select(StaffMember.name))).scalars())
    for name, services, hours in STAFF:
        if name not in known:
            session.add(StaffMember(name=name, services=services, hours=hours))
    today = utcnow().astimezone(rules.zone).date()
    days = set((await session.execute(select(Holiday.day))).scalars())
    for year in (today.year, today.year + 1):
        for month, day, name in HOLIDAYS:
            if date(year, month, day) not in days:
                session.add(Holiday(day=date(year, month, day), name=name))
    await session.flush()
    await _seed_appointment(session, rules)


async def _seed_appointment(session: AsyncSession, rules: booking.BookingRules) -> None:
    customer = await session.scalar(select(Customer).where(Customer.name == UPCOMING_FOR))
    if customer is None or await booking.upcoming(session, customer.id):
        return
    day = utcnow().astimezone(rules.zone).date() + timedelta(days=3)
    for offset in range(14):  # the first day, from three days on, that takes it at 10:00
        wanted = datetime.combine(day + timedelta(days=offset), time(10), tzinfo=rules.zone)
        try:
            await booking.book(
                session,
                customer_id=customer.id,
                service_key="skin_consultation",
                starts_at=wanted,
                rules=rules,
                channel="telegram",
                notes="demo booking",
                actor_type="system",
            )
        except booking.BookingError:
            continue
        return


async def _seed_customer(session: AsyncSession, demo: DemoCustomer) -> None:
    now = utcnow()
    customer = Customer(
        name=demo.name, language=demo.language, lifecycle_stage=demo.stage, tags=["demo"]
    )
    session.add(customer)
    await session.flush()
    channel, external_id = demo.identity
    identity = Identity(
        customer_id=customer.id, channel=channel, external_id=external_id, display_name=demo.name
    )
    session.add(identity)
    for kind, value in (("phone", demo.phone), ("email", demo.email)):
        if value:
            session.add(
                ContactPoint(
                    customer_id=customer.id, kind=kind, value=value, verified=True, source="import"
                )
            )
    for description, amount, days_ago in demo.purchases:
        session.add(
            Purchase(
                customer_id=customer.id,
                description=description,
                amount=amount,
                purchased_at=now - timedelta(days=days_ago),
            )
        )
    await session.flush()
    started = now - timedelta(days=3)
    conversation = Conversation(
        customer_id=customer.id,
        identity_id=identity.id,
        channel=channel,
        status=ConversationStatus.RESOLVED.value,
        language=demo.language,
        created_at=started,
        last_message_at=started + timedelta(minutes=len(demo.history)),
        resolved_at=started + timedelta(minutes=30),
    )
    session.add(conversation)
    await session.flush()
    for index, (author, text) in enumerate(demo.history):
        at = started + timedelta(minutes=index)
        inbound = author == "customer"
        session.add(
            Message(
                conversation_id=conversation.id,
                customer_id=customer.id,
                channel=channel,
                direction="in" if inbound else "out",
                author_type=author,
                text=text,
                attachments=[],
                status="received" if inbound else "delivered",
                created_at=at,
                sent_at=None if inbound else at,
            )
        )
    opened = timeline.record(
        session,
        customer_id=customer.id,
        conversation_id=conversation.id,
        kind="conversation_opened",
        actor_type="customer",
        data={"channel": channel, "seeded": True},
    )
    opened.created_at = started
    customer.last_seen_at = started
