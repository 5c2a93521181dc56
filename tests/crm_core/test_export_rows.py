"""Conversation exports: exact rows from a seeded day with hand-computed figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.db import Database
from crm_core.models import (
    Agent,
    Conversation,
    Customer,
    Identity,
    Message,
    Ticket,
    TimelineEvent,
)
from crm_core.reporting.export import conversation_rows
from crm_core.reporting.export_query import ExportQuery
from crm_core.reporting.export_render import render

TZ = "Asia/Ho_Chi_Minh"
ZONE = ZoneInfo(TZ)
DAY = date(2025, 3, 10)
T0 = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)  # 09:00 in Ho Chi Minh City
HEADER = (
    "conversation_id,channel,customer_id,customer_name,agent,status,created_at,"
    "first_response_s,resolution_s,csat,tags,ticket,bot_contained\r\n"
)
ROW_HANDED = (
    "c1,telegram,cust-a,Nguyễn Thị Lan,Hà Supervisor,resolved,2025-03-10T09:00:00+07:00,"
    "90,3600,4,vip;spa,T-000123;T-000124,no\r\n"
)
ROW_BOT = (
    'c2,webchat,cust-b,"\'=HYPERLINK(""http://evil"",""x"")",,resolved,'
    "2025-03-10T09:00:10+07:00,,600,5,'+1;x,,yes\r\n"
)
ROW_OPEN = "c4,zalo,cust-c,'-2,,bot,2025-03-10T23:59:59+07:00,,,,'@SUM(A1),,yes\r\n"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _status(conversation: str, customer: str, when: float, old: str, new: str) -> TimelineEvent:
    return TimelineEvent(
        customer_id=customer,
        conversation_id=conversation,
        kind="status_changed",
        actor_type="system",
        data={"from": old, "to": new},
        created_at=_at(when),
    )


def _message(conversation: str, customer: str, when: float, **fields: Any) -> Message:
    values: dict[str, Any] = {
        "channel": "telegram",
        "direction": "out",
        "author_type": "agent",
        "status": "sent",
        "text": "",
    }
    values.update(fields)
    return Message(
        conversation_id=conversation, customer_id=customer, created_at=_at(when), **values
    )


def _people() -> list[Any]:
    agent = Agent(id="ag1", email="ha@example.com", name="Hà Supervisor", role="supervisor")
    customers = [
        Customer(id="cust-a", name="Nguyễn Thị Lan", tags=["vip", "spa"]),
        Customer(id="cust-b", name='=HYPERLINK("http://evil","x")', tags=["+1", "x"]),
        Customer(id="cust-c", name="-2", tags=["@SUM(A1)"]),
    ]
    identities = [
        Identity(id=f"id-{c.id}", customer_id=c.id, channel="telegram", external_id=c.id)
        for c in customers
    ]
    return [agent, *customers, *identities]


def _conversations() -> list[Conversation]:
    def conv(cid: str, cust: str, channel: str, when: float, **fields: Any) -> Conversation:
        return Conversation(
            id=cid,
            customer_id=cust,
            identity_id=f"id-{cust}",
            channel=channel,
            created_at=_at(when),
            **fields,
        )

    return [
        conv(
            "c1",
            "cust-a",
            "telegram",
            0,
            status="resolved",
            csat=4,
            assigned_agent_id="ag1",
            resolved_at=_at(3600),
        ),  # fmt: skip
        conv("c2", "cust-b", "webchat", 10, status="resolved", csat=5, resolved_at=_at(610)),
        conv("c3", "cust-a", "telegram", -9.5 * 3600, status="bot"),  # 23:30 the day before
        conv("c4", "cust-c", "zalo", 15 * 3600 - 1, status="bot"),  # 23:59:59 local
        conv("c5", "cust-c", "zalo", 15 * 3600, status="bot"),  # midnight: the next day
    ]


def _activity() -> list[Any]:
    return [
        # c1: an agent note before the handoff does not count as the first response.
        _message("c1", "cust-a", 30, text="early"),
        _status("c1", "cust-a", 60, "bot", "waiting_agent"),
        _status("c1", "cust-a", 90, "waiting_agent", "agent"),
        _message("c1", "cust-a", 150, text="Chào chị"),
        _message("c1", "cust-a", 200, text="second"),
        _message("c1", "cust-a", 120, author_type="bot", text="bot, not agent"),
        _status("c1", "cust-a", 3600, "agent", "resolved"),
        # c2: the bot resolved it alone.
        _message("c2", "cust-b", 20, author_type="bot", channel="webchat", text="hi"),
        _status("c2", "cust-b", 610, "bot", "resolved"),
        Ticket(number=124, customer_id="cust-a", conversation_id="c1", subject="b"),
        Ticket(number=123, customer_id="cust-a", conversation_id="c1", subject="a"),
        Ticket(number=9, customer_id="cust-a", conversation_id=None, subject="elsewhere"),
    ]


async def seed_export_fixture(db: Database) -> None:
    """Five conversations around 2025-03-10 (local), three of them inside that day."""
    for batch in (_people(), _conversations(), _activity()):
        async with db.transaction() as session:
            session.add_all(batch)


async def _collect(db: Database, fmt: str, **filters: Any) -> str:
    query = ExportQuery.local_days(DAY, DAY, timezone=TZ, **filters)
    chunks = render(db, query, kind="conversations", fmt=fmt, zone=ZONE)  # type: ignore[arg-type]
    return "".join([chunk async for chunk in chunks])


async def test_csv_rows_are_exact_and_safe(database_url: str) -> None:
    db = Database(database_url)
    try:
        await seed_export_fixture(db)
        text = await _collect(db, "csv")
        assert text == "\ufeff" + HEADER + ROW_HANDED + ROW_BOT + ROW_OPEN
        assert await _collect(db, "csv", channel="zalo") == "\ufeff" + HEADER + ROW_OPEN
        assert await _collect(db, "csv", status="resolved") == (
            "\ufeff" + HEADER + ROW_HANDED + ROW_BOT
        )
    finally:
        await db.dispose()


async def test_json_rows_keep_types_and_raw_text(database_url: str) -> None:
    db = Database(database_url)
    try:
        await seed_export_fixture(db)
        rows = json.loads(await _collect(db, "json"))
    finally:
        await db.dispose()
    assert [row["conversation_id"] for row in rows] == ["c1", "c2", "c4"]
    assert rows[0] == {
        "conversation_id": "c1",
        "channel": "telegram",
        "customer_id": "cust-a",
        "customer_name": "Nguyễn Thị Lan",
        "agent": "Hà Supervisor",
        "status": "resolved",
        "created_at": "2025-03-10T09:00:00+07:00",
        "first_response_s": 90,
        "resolution_s": 3600,
        "csat": 4,
        "tags": ["vip", "spa"],
        "ticket": ["T-000123", "T-000124"],
        "bot_contained": False,
    }
    # JSON is data, not a spreadsheet: no apostrophes added.
    assert rows[1]["customer_name"] == '=HYPERLINK("http://evil","x")'
    assert rows[1]["bot_contained"] is True and rows[1]["first_response_s"] is None
    assert rows[2]["tags"] == ["@SUM(A1)"] and rows[2]["resolution_s"] is None


async def test_keyset_pages_give_the_same_rows_as_one_page(database_url: str) -> None:
    db = Database(database_url)
    try:
        await seed_export_fixture(db)
        query = ExportQuery.local_days(DAY, DAY, timezone=TZ)
        whole = [row async for row in conversation_rows(db, query, zone=ZONE)]
        paged = [row async for row in conversation_rows(db, query, zone=ZONE, page_size=1)]
        empty = ExportQuery.local_days(date(2030, 1, 1), date(2030, 1, 1), timezone=TZ)
        none = await _collect_query(db, empty)
    finally:
        await db.dispose()
    assert paged == whole and len(whole) == 3
    assert none == "[]\n"


async def _collect_query(db: Database, query: ExportQuery) -> str:
    chunks = render(db, query, kind="conversations", fmt="json", zone=ZONE)
    return "".join([chunk async for chunk in chunks])
