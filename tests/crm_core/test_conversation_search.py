"""The conversation list query: each filter narrows to exactly the expected conversations,
search ignores Vietnamese marks and takes % literally, and keyset pages never skip or repeat.

Fixture (times in Asia/Ho_Chi_Minh, UTC+7):
  c1 telegram resolved, agent Mai, CSAT 5, handed off (status_changed), customer Lan (vip, spa),
     "Tôi muốn Đặt lịch khám da", last activity 2025-03-01 00:30 local
  c2 zalo bot, CSAT 2, urgent ticket, customer Lan, "giảm 50% hôm nay?", 2025-03-02 10:00
  c3 sms agent, agent Hoa, claimed straight from the bot (no status_changed), high ticket,
     customer Bình (spa), "giảm 500 hôm nay", 2025-03-03 10:00
  c4 telegram waiting_agent, handed off, customer Bình, "xin chào", 2025-03-04 10:00
  c5 webchat bot, CSAT 4, customer Vi (tag "vi"), "cảm ơn", 2025-02-28 23:59 local
  c6 email bot, no agent now: claimed once (a "claimed" event only), then back with the bot;
     customer Khoa, "hello", 2025-02-27 10:00
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_core.auth import create_agent
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.models import Conversation, Customer, Identity, Message, Ticket, TimelineEvent
from crm_core.reporting.conversation_list import list_page
from crm_core.reporting.conversation_search import (
    FilterError,
    encode_cursor,
    parse_filter,
)
from crm_core.types import new_id

TZ = "Asia/Ho_Chi_Minh"
ZONE = ZoneInfo(TZ)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


class Seed:
    """Rows added through the ORM in one session (search_text folds on write)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.tickets = 0

    async def customer(self, name: str, tags: list[str]) -> Customer:
        customer = Customer(id=new_id(), name=name, tags=tags)
        self.session.add(customer)
        await self.session.flush()
        return customer

    async def conversation(
        self, customer: Customer, channel: str, at: datetime, text: str, **fields: Any
    ) -> str:
        identity = Identity(customer_id=customer.id, channel=channel, external_id=new_id())
        self.session.add(identity)
        await self.session.flush()
        conversation = Conversation(
            id=new_id(),
            customer_id=customer.id,
            identity_id=identity.id,
            channel=channel,
            created_at=at - timedelta(hours=1),
            updated_at=at,
            **fields,
        )
        self.session.add(conversation)
        await self.session.flush()
        self.message(conversation, at, text)
        return conversation.id

    def message(self, conversation: Conversation, at: datetime, text: str) -> None:
        self.session.add(
            Message(
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                channel=conversation.channel,
                direction="in",
                author_type="customer",
                text=text,
                status="received",
                created_at=at,
            )
        )

    def event(self, customer: Customer, conversation_id: str, kind: str, **data: str) -> None:
        self.session.add(
            TimelineEvent(
                customer_id=customer.id,
                conversation_id=conversation_id,
                kind=kind,
                actor_type="system",
                data=data,
            )
        )

    def ticket(self, customer: Customer, conversation_id: str, severity: str) -> None:
        self.tickets += 1
        self.session.add(
            Ticket(
                number=self.tickets,
                customer_id=customer.id,
                conversation_id=conversation_id,
                severity=severity,
                subject="x",
            )
        )


async def seed(db: Database) -> dict[str, str]:
    """The fixture of the module docstring: ids by name, agents as "mai" and "hoa"."""
    async with db.transaction() as session:
        mai = await create_agent(
            session, email="mai@x.vn", role=Role.AGENT, password="p" * 12, name="Mai"
        )
        hoa = await create_agent(session, email="hoa@x.vn", role=Role.AGENT, password="p" * 12)
        s = Seed(session)
        lan = await s.customer("Lan Nguyễn", ["vip", "spa"])
        binh = await s.customer("Bình", ["spa"])
        vi = await s.customer("Vi", ["vi"])
        c1 = await s.conversation(
            lan,
            "telegram",
            local(2025, 3, 1, 0, 30),
            "Tôi muốn Đặt lịch khám da",
            status="resolved",
            csat=5,
            assigned_agent_id=mai.id,
        )
        s.event(lan, c1, "status_changed", **{"from": "bot", "to": "waiting_agent"})
        c2 = await s.conversation(
            lan, "zalo", local(2025, 3, 2, 10), "giảm 50% hôm nay?", status="bot", csat=2
        )
        s.event(lan, c2, "status_changed", **{"from": "bot", "to": "resolved"})
        s.ticket(lan, c2, "urgent")
        c3 = await s.conversation(
            binh,
            "sms",
            local(2025, 3, 3, 10),
            "giảm 500 hôm nay",
            status="agent",
            assigned_agent_id=hoa.id,
        )
        s.event(binh, c3, "claimed", **{"from": "bot", "to": "agent"})
        s.ticket(binh, c3, "high")
        c4 = await s.conversation(
            binh, "telegram", local(2025, 3, 4, 10), "xin chào", status="waiting_agent"
        )
        s.event(binh, c4, "status_changed", **{"from": "bot", "to": "waiting_agent"})
        c5 = await s.conversation(
            vi, "webchat", local(2025, 2, 28, 23, 59), "cảm ơn", status="bot", csat=4
        )
        khoa = await s.customer("Khoa", [])
        c6 = await s.conversation(khoa, "email", local(2025, 2, 27, 10), "hello", status="bot")
        s.event(khoa, c6, "claimed", **{"from": "bot", "to": "agent"})
    named = {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6}
    return {**named, "mai": mai.id, "hoa": hoa.id}


async def names(db: Database, ids: dict[str, str], **params: str) -> list[str]:
    """The fixture names the filter keeps, newest activity first.

    The same answer is asked for in one page and in pages of two, with search and tag
    probing windows of 1, 2 and 3 conversations (so both the probe and the fallback run).
    """
    by_id = {value: key for key, value in ids.items()}
    wanted = parse_filter(params, timezone=TZ)
    async with db.reading() as session:
        page = await list_page(session, wanted, cursor=None, limit=50)
        answer = [by_id[row.conversation.id] for row in page.rows]
        for window in (1, 2, 3):
            walked = [by_id[cid] for cid in await walk(session, wanted, window)]
            assert walked == answer, (params, window)
    return answer


async def walk(session: Any, wanted: Any, window: int) -> list[str]:
    by_page: list[str] = []
    cursor: str | None = None
    while True:
        page = await list_page(session, wanted, cursor=cursor, limit=2, window=window)
        by_page.extend(row.conversation.id for row in page.rows)
        if page.next_cursor is None:
            return by_page
        cursor = page.next_cursor


async def test_each_filter_narrows_to_exactly_the_expected_conversations(db: Database) -> None:
    ids = await seed(db)
    assert await names(db, ids) == ["c4", "c3", "c2", "c1", "c5", "c6"]
    expected: list[tuple[dict[str, str], list[str]]] = [
        ({"channel": "telegram"}, ["c4", "c1"]),
        ({"status": "bot"}, ["c2", "c5", "c6"]),
        ({"status": "waiting_agent"}, ["c4"]),
        ({"agent": ids["mai"]}, ["c1"]),
        ({"agent": ids["hoa"]}, ["c3"]),
        ({"from": "2025-03-01", "to": "2025-03-02"}, ["c2", "c1"]),  # c5 is a minute early
        ({"to": "2025-02-28"}, ["c5", "c6"]),
        ({"from": "2025-02-28", "to": "2025-02-28"}, ["c5"]),
        ({"from": "2025-03-04"}, ["c4"]),
        ({"tag": "vip"}, ["c2", "c1"]),
        ({"tag": "spa"}, ["c4", "c3", "c2", "c1"]),
        ({"tag": "vi"}, ["c5"]),  # a whole tag, never a piece of "vip"
        ({"tag": "gold"}, []),
        ({"csat": "5"}, ["c1"]),
        ({"csat_min": "4"}, ["c1", "c5"]),
        ({"csat_min": "2"}, ["c2", "c1", "c5"]),
        ({"severity": "urgent"}, ["c2"]),
        ({"severity": "high"}, ["c3"]),
        ({"severity": "low"}, []),
        ({"handled": "bot"}, ["c2", "c5"]),
        ({"handled": "agent"}, ["c4", "c3", "c1", "c6"]),
        ({"channel": "telegram", "handled": "agent", "csat": "5"}, ["c1"]),
        ({"channel": "email"}, ["c6"]),
        ({"channel": "", "status": "  "}, ["c4", "c3", "c2", "c1", "c5", "c6"]),  # empty = any
    ]
    for params, wanted in expected:
        assert await names(db, ids, **params) == wanted, params


async def test_search_ignores_marks_and_case_and_takes_wildcards_literally(db: Database) -> None:
    ids = await seed(db)
    assert await names(db, ids, q="dat lich") == ["c1"]
    assert await names(db, ids, q="ĐẶT LỊCH") == ["c1"]
    assert await names(db, ids, q="giam 50") == ["c3", "c2"]
    assert await names(db, ids, q="50%") == ["c2"]  # not "500"
    assert await names(db, ids, q="%") == ["c2"]
    assert await names(db, ids, q="gi_m") == []  # _ is no single-character wildcard
    assert await names(db, ids, q="lan") == ["c2", "c1"]  # the customer's name
    assert await names(db, ids, q="dat lich", channel="zalo") == []
    async with db.reading() as session:
        page = await list_page(
            session, parse_filter({"q": "xin chao"}, timezone=TZ), cursor=None, limit=5
        )
    assert [row.snippet for row in page.rows] == ["xin chào"]


async def test_the_page_shows_names_handling_and_the_matching_message(db: Database) -> None:
    ids = await seed(db)
    async with db.transaction() as session:
        c1 = await session.get(Conversation, ids["c1"])
        assert c1 is not None
        Seed(session).message(c1, local(2025, 3, 1, 0, 20), "hẹn gặp lại")
    async with db.reading() as session:
        every = await list_page(session, parse_filter({}, timezone=TZ), cursor=None, limit=50)
        found = await list_page(
            session, parse_filter({"q": "dat lich"}, timezone=TZ), cursor=None, limit=50
        )
    rows = {row.conversation.id: row for row in every.rows}
    assert rows[ids["c1"]].customer_name == "Lan Nguyễn"
    assert rows[ids["c1"]].agent_name == "Mai"
    assert rows[ids["c1"]].snippet == "Tôi muốn Đặt lịch khám da"  # the latest message
    assert rows[ids["c3"]].handed_off and not rows[ids["c2"]].handed_off
    assert rows[ids["c5"]].agent_name is None
    assert [row.snippet for row in found.rows] == ["Tôi muốn Đặt lịch khám da"]


async def test_pages_return_every_row_once_even_when_activity_times_tie(db: Database) -> None:
    async with db.transaction() as session:
        s = Seed(session)
        customer = await s.customer("Tie", [])
        base = local(2025, 5, 1, 9)
        made = [
            await s.conversation(customer, "telegram", base + timedelta(minutes=n // 4), "hi")
            for n in range(23)
        ]
        stmt = select(Conversation.id, Conversation.updated_at)
        rows = (await session.execute(stmt)).all()
    expected = [row.id for row in sorted(rows, key=lambda r: (r.updated_at, r.id), reverse=True)]
    assert sorted(expected) == sorted(made)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        async with db.reading() as session:
            page = await list_page(session, parse_filter({}, timezone=TZ), cursor=cursor, limit=5)
        seen.extend(row.conversation.id for row in page.rows)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert pages == 5  # 5 + 5 + 5 + 5 + 3
    searching = parse_filter({"q": "hi"}, timezone=TZ)  # probing windows that end inside ties
    async with db.reading() as session:
        for window in (1, 2, 3, 6, 7):
            assert await walk(session, searching, window) == expected, window


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"status": "sleeping"}, "status"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"handled": "robot"}, "handled"),
        ({"csat": "6"}, "csat"),
        ({"csat_min": "0"}, "csat_min"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2025-03-05", "to": "2025-03-01"}, "to"),
        ({"agent": "x' OR 1=1 --"}, "agent"),
        ({"tag": "t" * 65}, "tag"),
    ],
)
def test_unknown_values_are_refused_with_the_field_named(
    params: dict[str, str], field: str
) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filter(params, timezone=TZ)
    assert refused.value.field == field
    if field == "channel":
        assert "telegram" in refused.value.allowed and "telegram" in str(refused.value)


async def test_a_cursor_this_code_did_not_issue_is_refused(db: Database) -> None:
    good = encode_cursor(datetime(2025, 1, 1, tzinfo=UTC), "abc")
    naive = encode_cursor(datetime(2025, 1, 1), "abc")  # noqa: DTZ001 - a forged cursor
    async with db.reading() as session:
        everything = parse_filter({}, timezone=TZ)
        assert (await list_page(session, everything, cursor=good, limit=5)).rows == []
        for bad in ("not-base64!", naive, "Zm9v"):
            with pytest.raises(FilterError) as refused:
                await list_page(session, everything, cursor=bad, limit=5)
            assert refused.value.field == "cursor"
