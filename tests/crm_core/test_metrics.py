"""Metrics summary against a hand-computed fixture (SQLite and PostgreSQL).

The week of 2025-03-01..07 in Asia/Ho_Chi_Minh (UTC+7) holds four conversations:
c1 telegram (customer A): handoff, agent reply 60 s later, resolved after 600 s, CSAT 5,
   one SLA breach; c2 zalo (B): handoff, claim, reply 180 s after the handoff, resolved after
   1800 s, CSAT 3; c3 telegram (C) and c4 telegram (A) stay with the bot. One conversation
   sits a second before the week and one exactly at its end (C again, 4 days after c3: C
   came back). Customers D and E first wrote in Oct 2024 (D back after 45 days, E after 114).

Every figure below is worked out by hand in the comments beside it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_core.db import Database
from crm_core.models import (
    Appointment,
    Conversation,
    Customer,
    Identity,
    Message,
    Purchase,
    Service,
    Ticket,
    TimelineEvent,
)
from crm_core.reporting.metrics import summary
from crm_core.types import new_id
from handoff.times import conversation_times

TZ = "Asia/Ho_Chi_Minh"
ZONE = ZoneInfo(TZ)
START = datetime(2025, 3, 1, tzinfo=ZONE)  # 2025-02-28T17:00Z
END = datetime(2025, 3, 8, tzinfo=ZONE)  # 2025-03-07T17:00Z, exclusive


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class Seed:
    """Adds rows in one session; ids are returned so tests can look at single objects."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.tickets = 0

    async def customer(self, channel: str, created: datetime, stage: str = "lead") -> list[str]:
        customer = Customer(id=new_id(), name="x", lifecycle_stage=stage, created_at=created)
        self.session.add(customer)
        await self.session.flush()
        identity = Identity(
            id=new_id(), customer_id=customer.id, channel=channel, external_id=new_id()
        )
        self.session.add(identity)
        await self.session.flush()
        return [customer.id, identity.id, channel]

    async def conversation(self, who: list[str], created: datetime, **fields: Any) -> str:
        customer_id, identity_id, channel = who
        conversation = Conversation(
            id=new_id(),
            customer_id=customer_id,
            identity_id=identity_id,
            channel=channel,
            created_at=created,
            **fields,
        )
        self.session.add(conversation)
        await self.session.flush()
        self.message(conversation, created, "in", "customer")
        self.message(conversation, created + timedelta(seconds=5), "out", "bot")
        return conversation.id

    def message(self, conversation: Conversation, at: datetime, direction: str, author: str):
        self.session.add(
            Message(
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                channel=conversation.channel,
                direction=direction,
                author_type=author,
                text="hi",
                status="received" if direction == "in" else "sent",
                created_at=at,
            )
        )

    async def event(self, conversation_id: str, kind: str, at: datetime, **data: Any) -> None:
        conversation = await self.session.get(Conversation, conversation_id)
        self.session.add(
            TimelineEvent(
                customer_id=conversation.customer_id,
                conversation_id=conversation_id,
                kind=kind,
                actor_type="system",
                data=data,
                created_at=at,
            )
        )

    async def agent_reply(self, conversation_id: str, at: datetime) -> None:
        self.message(await self.session.get(Conversation, conversation_id), at, "out", "agent")

    def ticket(self, customer_id: str, conversation_id: str | None, at: datetime, **kw: Any):
        self.tickets += 1
        self.session.add(
            Ticket(
                number=self.tickets,
                customer_id=customer_id,
                conversation_id=conversation_id,
                subject="late delivery",
                created_at=at,
                **kw,
            )
        )


async def seed(db: Database) -> dict[str, str]:
    """The fixture of the module docstring; returns the conversation ids by name."""
    async with db.transaction() as session:
        s = Seed(session)
        a = await s.customer("telegram", utc(2025, 3, 1, 2), stage="customer")
        b = await s.customer("zalo", utc(2025, 3, 2, 9))
        c = await s.customer("telegram", utc(2025, 3, 3, 12))
        session.add(
            Purchase(customer_id=b[0], description="x", amount=1, purchased_at=utc(2025, 3, 2))
        )

        c1_at = utc(2025, 3, 1, 3)  # local 2025-03-01 10:00
        c1 = await s.conversation(
            a, c1_at, status="resolved", csat=5, resolved_at=c1_at + timedelta(seconds=600)
        )
        handoff1 = c1_at + timedelta(seconds=120)
        await s.event(c1, "status_changed", handoff1, **{"from": "bot", "to": "waiting_agent"})
        await s.event(c1, "status_changed", handoff1 + timedelta(seconds=10), to="agent")
        await s.agent_reply(c1, handoff1 + timedelta(seconds=60))
        await s.agent_reply(c1, handoff1 + timedelta(seconds=300))
        await s.event(c1, "sla_breached", handoff1 + timedelta(seconds=50))
        await s.event(c1, "csat_received", c1_at + timedelta(seconds=700), score=5)

        c2_at = utc(2025, 3, 2, 10)  # local 2025-03-02 17:00
        c2 = await s.conversation(
            b, c2_at, status="resolved", csat=3, resolved_at=c2_at + timedelta(seconds=1800)
        )
        handoff2 = c2_at + timedelta(seconds=30)
        await s.event(c2, "status_changed", handoff2, **{"from": "bot", "to": "waiting_agent"})
        await s.event(c2, "claimed", handoff2 + timedelta(seconds=30))
        claimed = {"from": "waiting_agent", "to": "agent"}
        await s.event(c2, "status_changed", handoff2 + timedelta(seconds=30), **claimed)
        await s.agent_reply(c2, handoff2 + timedelta(seconds=180))

        c3 = await s.conversation(c, utc(2025, 3, 3, 17, 30))  # local 2025-03-04 00:30
        c4 = await s.conversation(a, utc(2025, 3, 5, 9))  # local 2025-03-05 16:00
        await s.event(c4, "status_changed", utc(2025, 3, 5, 9, 1), **{"from": "bot", "to": "bot"})
        before = await s.conversation(c, START - timedelta(seconds=1))
        at_end = await s.conversation(c, END)

        s.ticket(a[0], c1, utc(2025, 3, 1, 4), category="complaint", severity="high")
        s.ticket(b[0], c2, utc(2025, 3, 2, 11), category="billing", severity="normal")
        s.ticket(a[0], None, utc(2025, 2, 20), category="complaint", severity="urgent")

        service = Service(
            key="consult", name_vi="Tư vấn", name_en="Consult", duration_minutes=30, price=0
        )
        session.add(service)
        await session.flush()
        for who, created, channel, status in (
            (a, utc(2025, 3, 1, 5), "telegram", "booked"),
            (b, utc(2025, 3, 2, 12), "zalo", "no_show"),
            (b, utc(2025, 3, 9), "zalo", "no_show"),
        ):
            session.add(
                Appointment(
                    customer_id=who[0],
                    service_id=service.id,
                    starts_at=utc(2090, 3, 20),  # far ahead: no no-show sweep
                    ends_at=utc(2090, 3, 20, 0, 30),
                    status=status,
                    channel=channel,
                    created_at=created,
                )
            )

        d = await s.customer("telegram", utc(2024, 10, 1))
        e = await s.customer("zalo", utc(2024, 10, 10))
        f = await s.customer("telegram", utc(2024, 6, 1))
        await s.conversation(d, utc(2024, 10, 1))
        await s.conversation(d, utc(2024, 11, 15))
        await s.conversation(e, utc(2024, 10, 10))
        await s.conversation(e, utc(2025, 2, 1))
        await s.conversation(f, utc(2024, 6, 1))
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "before": before, "at_end": at_end}


WEEK = {
    "conversations": 4,
    "by_channel": {"telegram": 3, "zalo": 1},
    "per_day": [
        {"date": "2025-03-01", "channel": "telegram", "count": 1},
        {"date": "2025-03-02", "channel": "zalo", "count": 1},
        {"date": "2025-03-04", "channel": "telegram", "count": 1},
        {"date": "2025-03-05", "channel": "telegram", "count": 1},
    ],
    "first_response_median_s": 120.0,
    "first_response_p90_s": 168.0,
    "resolution_median_s": 1200.0,
    "resolution_p90_s": 1680.0,
    "csat": 4.0,
    "csat_responses": 2,
    "csat_distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1},
    "csat_satisfied": 0.5,  # the 5 of c1 out of {5, 3}
    "bot_containment": 0.5,
    "handoff_rate": 0.5,
    "handoffs": 2,
    "sla_breaches": 1,
    "sla_breached_conversations": 1,
    "sla_breach_rate": 0.5,  # c1 of the two handed-off conversations
    "complaints": {
        "by_category": {"billing": 1, "complaint": 1},
        "by_severity": {"high": 1, "normal": 1},
    },
    "bookings": 2,
    "no_shows": 1,
    "repeat_contact_rate": 0.3333,  # A (c1, c4) of A, B, C
    # c1 → c4 after 4 d 6 h, c3 → at_end after 3 d 23.5 h; c2 and c4: nothing after.
    "repeat_contact_7d_rate": 0.5,
    "repeat_contact_7d_pending": 0,
    # First conversation in range: A c1 (back with c4), B c2 (never back), C c3 (at_end).
    "retention_90d": 0.6667,
    "retention_customers": 3,
    "retention_pending": 0,
    # A came in as "customer" without a purchase (never a lead); B bought on 2025-03-02, C not.
    "leads": 2,
    "conversions": 1,
    "lead_conversion": 0.5,
}

WEEK_TELEGRAM = {
    **WEEK,
    "conversations": 3,
    "by_channel": {"telegram": 3},
    "per_day": [day for day in WEEK["per_day"] if day["channel"] == "telegram"],
    "first_response_median_s": 60.0,
    "first_response_p90_s": 60.0,
    "resolution_median_s": 600.0,
    "resolution_p90_s": 600.0,
    "csat": 5.0,
    "csat_responses": 1,
    "csat_distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
    "csat_satisfied": 1.0,
    "bot_containment": 0.6667,
    "handoff_rate": 0.3333,
    "handoffs": 1,
    "sla_breach_rate": 1.0,
    "complaints": {"by_category": {"complaint": 1}, "by_severity": {"high": 1}},
    "bookings": 1,
    "no_shows": 0,
    "repeat_contact_rate": 0.5,
    "repeat_contact_7d_rate": 0.6667,  # c1 and c3 of c1, c3, c4
    "retention_90d": 1.0,  # A and C both came back
    "retention_customers": 2,
    "leads": 1,  # C (telegram identity); A never was a lead
    "conversions": 0,
    "lead_conversion": 0.0,
}

EMPTY = {
    "conversations": 0,
    "by_channel": {},
    "per_day": [],
    "first_response_median_s": None,
    "first_response_p90_s": None,
    "resolution_median_s": None,
    "resolution_p90_s": None,
    "csat": None,
    "csat_responses": 0,
    "csat_distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    "csat_satisfied": None,
    "bot_containment": None,
    "handoff_rate": None,
    "handoffs": 0,
    "sla_breaches": 0,
    "sla_breached_conversations": 0,
    "sla_breach_rate": None,
    "complaints": {"by_category": {}, "by_severity": {}},
    "bookings": 0,
    "no_shows": 0,
    "repeat_contact_rate": None,
    "repeat_contact_7d_rate": None,
    "repeat_contact_7d_pending": 0,
    "retention_90d": None,
    "retention_customers": 0,
    "retention_pending": 0,
    "leads": 0,
    "conversions": 0,
    "lead_conversion": None,
}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _summary(db: Database, start: datetime, end: datetime, **kw: Any) -> dict[str, Any]:
    async with db.reading() as session:
        return (await summary(session, start=start, end=end, timezone=TZ, **kw)).as_dict()


async def test_week_matches_the_hand_computed_figures(db: Database) -> None:
    await seed(db)
    assert await _summary(db, START, END) == WEEK


async def test_channel_filter(db: Database) -> None:
    await seed(db)
    assert await _summary(db, START, END, channel="telegram") == WEEK_TELEGRAM
    zalo = await _summary(db, START, END, channel="zalo")
    assert (zalo["conversations"], zalo["first_response_median_s"], zalo["csat"]) == (1, 180, 3)
    assert (zalo["retention_90d"], zalo["lead_conversion"], zalo["no_shows"]) == (0.0, 1.0, 1)


async def test_range_edges_are_half_open(db: Database) -> None:
    ids = await seed(db)
    second = timedelta(seconds=1)
    wider = await _summary(db, START - second, END + second)
    assert wider["conversations"] == 6
    assert (await _summary(db, START, END - second))["conversations"] == 4
    only_first = await _summary(db, START - second, START)
    assert only_first["conversations"] == 1
    assert only_first["per_day"] == [{"date": "2025-02-28", "channel": "telegram", "count": 1}]
    assert ids["before"] and ids["at_end"]


async def test_empty_range_gives_nulls_and_zeros(db: Database) -> None:
    await seed(db)
    later = datetime(2031, 1, 1, tzinfo=ZONE)
    assert await _summary(db, later, later + timedelta(days=7)) == EMPTY
    async with db.reading() as session:
        empty = await summary(session, start=START, end=START, timezone=TZ)
    assert empty.conversations == 0 and empty.csat is None


async def test_handoff_times_agree_with_the_summary(db: Database) -> None:
    ids = await seed(db)
    async with db.reading() as session:
        first = await conversation_times(session, ids["c1"])
        second = await conversation_times(session, ids["c2"])
        contained = await conversation_times(session, ids["c3"])
    assert (first.first_response_s, first.resolution_s) == (60.0, 600.0)
    assert (second.first_response_s, second.resolution_s) == (180.0, 1800.0)
    assert (contained.handoff_at, contained.first_response_s) == (None, None)


async def test_windows_still_open_at_now_are_pending(db: Database) -> None:
    await seed(db)
    # A day after the week: only c1's 7 days (to 2025-03-08T03:00Z) are over, and it came back.
    now = END + timedelta(days=1)
    figures = await _summary(db, START, END, now=now)
    assert (figures["repeat_contact_7d_rate"], figures["repeat_contact_7d_pending"]) == (1.0, 3)
    assert (figures["retention_90d"], figures["retention_customers"]) == (None, 0)
    assert figures["retention_pending"] == 3


async def test_october_cohort_retention(db: Database) -> None:
    await seed(db)
    october = datetime(2024, 10, 1, tzinfo=ZONE), datetime(2024, 11, 1, tzinfo=ZONE)
    figures = await _summary(db, *october)
    # D came back after 45 days, E after 114: one of two within 90 days; none within 7.
    assert (figures["retention_90d"], figures["retention_customers"]) == (0.5, 2)
    assert figures["repeat_contact_7d_rate"] == 0.0
    # D and E were created in October as leads and bought nothing.
    assert (figures["leads"], figures["conversions"], figures["lead_conversion"]) == (2, 0, 0.0)


BUSY_DAY = datetime(2025, 6, 10, tzinfo=ZONE)
# (first response s, resolution s, CSAT, stage, first purchase, next conversation after)
BUSY = [
    (10, 1000, 1, "lead", utc(2025, 6, 10, 8), timedelta(days=7)),
    (20, 2000, 2, "lead", utc(2025, 6, 10, 9), timedelta(days=7, seconds=1)),
    (30, 3000, 4, "lead", utc(2025, 5, 1), timedelta(days=90)),
    (40, 4000, 4, "loyal", None, timedelta(days=90, seconds=1)),
    (100, 5000, 5, "customer", utc(2025, 6, 10, 12), None),
]


async def seed_busy_day(db: Database) -> None:
    """Five handed-off conversations on 2025-06-10 (local), one per customer, as in BUSY."""
    async with db.transaction() as session:
        s = Seed(session)
        for i, (frt, resolution, score, stage, bought, back_after) in enumerate(BUSY):
            who = await s.customer("zalo", utc(2025, 6, 10, 1), stage=stage)
            opened = utc(2025, 6, 10, 2 + i)
            closed = opened + timedelta(seconds=resolution)
            cid = await s.conversation(
                who, opened, status="resolved", csat=score, resolved_at=closed
            )
            handoff = opened + timedelta(seconds=60)
            await s.event(cid, "status_changed", handoff, **{"from": "bot", "to": "agent"})
            await s.agent_reply(cid, handoff + timedelta(seconds=frt))
            if bought is not None:
                session.add(
                    Purchase(customer_id=who[0], description="x", amount=1, purchased_at=bought)
                )
            if back_after is not None:
                await s.conversation(who, opened + back_after)
            if i in (0, 4):
                await s.event(cid, "sla_breached", handoff + timedelta(seconds=5))
            if i == 0:  # handed off a second time and late again
                await s.event(cid, "sla_breached", handoff + timedelta(seconds=900))
        late = await s.customer("telegram", utc(2025, 1, 1))  # an old lead who buys that day
        session.add(
            Purchase(customer_id=late[0], description="x", amount=1, purchased_at=utc(2025, 6, 10))
        )
        await s.customer("telegram", utc(2025, 6, 10, 3))  # a new lead who does not buy
        for n, (category, severity) in enumerate(
            [("complaint", "low"), ("complaint", "normal"), ("question", "normal")]
            + [("complaint", "urgent")]
        ):
            s.ticket(who[0], None, utc(2025, 6, 10, 3, n), category=category, severity=severity)
        s.ticket(who[0], None, utc(2025, 6, 9, 16, 59), category="complaint", severity="high")
        service = Service(key="c", name_vi="T", name_en="C", duration_minutes=30, price=0)
        session.add(service)
        await session.flush()
        for created, status in (
            (utc(2025, 6, 10, 4), "no_show"),
            (utc(2025, 6, 10, 5), "no_show"),
            (utc(2025, 6, 10, 6), "completed"),
            (utc(2025, 6, 9, 16), "no_show"),  # local 06-09 23:00: the day before
        ):
            session.add(
                Appointment(
                    customer_id=who[0],
                    service_id=service.id,
                    starts_at=utc(2090, 1, 1),
                    ends_at=utc(2090, 1, 1, 0, 30),
                    status=status,
                    channel="zalo",
                    created_at=created,
                )
            )


async def test_busy_day_percentiles_breaches_complaints_and_windows(db: Database) -> None:
    await seed_busy_day(db)
    day = await _summary(db, BUSY_DAY, BUSY_DAY + timedelta(days=1))
    assert day["conversations"] == 5 and day["handoffs"] == 5
    # Ranks of 5 values: the median is the 3rd; p90 sits at rank 3.6 → 4th + 0.6 × (5th − 4th).
    assert (day["first_response_median_s"], day["first_response_p90_s"]) == (30.0, 76.0)
    assert (day["resolution_median_s"], day["resolution_p90_s"]) == (3000.0, 4600.0)
    assert day["csat"] == 3.2  # (1 + 2 + 4 + 4 + 5) / 5
    assert day["csat_distribution"] == {"1": 1, "2": 1, "3": 0, "4": 2, "5": 1}
    assert day["csat_satisfied"] == 0.6
    assert (day["sla_breaches"], day["sla_breached_conversations"]) == (3, 2)
    assert day["sla_breach_rate"] == 0.4
    assert day["complaints"] == {
        "by_category": {"complaint": 3, "question": 1},
        "by_severity": {"low": 1, "normal": 2, "urgent": 1},
    }
    assert (day["bookings"], day["no_shows"]) == (3, 2)
    # Back after exactly 7 days counts, a second later does not; the same at 90 days.
    assert (day["repeat_contact_rate"], day["repeat_contact_7d_rate"]) == (0.0, 0.2)
    assert (day["retention_90d"], day["retention_customers"]) == (0.6, 5)
    # Leads: #1, #2, #5 (a "customer" who still made a first purchase), the old lead who buys
    # and the new one who does not; #3 bought before the day, #4 came in "loyal" and never did.
    assert (day["leads"], day["conversions"], day["lead_conversion"]) == (5, 4, 0.8)
    telegram = await _summary(db, BUSY_DAY, BUSY_DAY + timedelta(days=1), channel="telegram")
    assert (telegram["leads"], telegram["conversions"], telegram["conversations"]) == (2, 1, 0)
