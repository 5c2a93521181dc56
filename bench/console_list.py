"""`python -m bench.console_list`: the console's conversation list at a million messages.

Fills a fresh SQLite file (and the PostgreSQL database named by OMNICRM_BENCH_DATABASE_URL,
when set) with ~50,000 conversations and ~1,000,000 messages through bulk Core inserts, then
times `list_page` — the query behind /console and its next-page links — for the first page, a
page deep in the list (via its cursor), each filter and a few searches. Prints the medians and
writes bench/results/console_list.json.

The PostgreSQL database must be empty (the bench migrates it and fills it), unless `--reset`
(drop and recreate its `public` schema first) or `--reuse` (time what an earlier run filled;
with `--sqlite PATH` for the SQLite side) is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from bench.report import machine, write_json
from crm_core.db import Database
from crm_core.migrate import upgrade
from crm_core.models import (
    Agent,
    Conversation,
    Customer,
    Identity,
    Message,
    Ticket,
    TimelineEvent,
)
from crm_core.reporting.conversation_list import list_page
from crm_core.reporting.conversation_search import encode_cursor, parse_filter
from crm_core.text import fold
from crm_core.types import new_id

RESULTS = Path(__file__).resolve().parent / "results" / "console_list.json"
TIMEZONE = "Asia/Ho_Chi_Minh"
END = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 50
CHANNELS = ("telegram", "zalo", "sms", "email", "webchat")
TAGS = ("vip", "spa", "new", "loyal", "b2b", "doctor-referral")
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng", "Bùi", "Đỗ", "Smith")
GIVEN = ("Lan", "Hương", "Minh", "Tuấn", "Bình", "Khoa", "Thảo", "Đức", "Vy", "Anna")
CUSTOMER_SAYS = (
    "Cho mình đặt lịch khám da vào thứ {d} nhé",
    "Giá gói massage bao nhiêu vậy shop?",
    "Em muốn hỏi về đơn hàng DH{n}",
    "Cảm ơn bạn nhiều!",
    "Địa chỉ spa ở đâu vậy ạ?",
    "Tôi muốn khiếu nại về dịch vụ hôm qua, nhân viên rất chậm",
    "Can I book an appointment for Saturday at {h} pm?",
    "What time do you open tomorrow?",
    "ok",
    "Có chỗ đậu xe ô tô không ạ?",
    "Cho mình gặp nhân viên tư vấn",
    "Mình muốn đổi lịch hẹn sang {h} giờ chiều",
)
BOT_SAYS = (
    "Dạ, spa mở cửa từ 9h đến 21h mỗi ngày ạ.",
    "Dạ em đã ghi nhận lịch hẹn lúc {h}:00 ngày {d}/12 ạ.",
    "Gói massage 90 phút có giá 650.000đ ạ.",
    "Dạ em chuyển anh/chị sang nhân viên tư vấn ngay ạ.",
    "We are at 12 Lê Lợi, District 1. Parking is free for customers.",
    "Bạn muốn đặt lịch vào ngày nào ạ?",
)


@dataclass
class Filled:
    """What the fill produced, and a few values the timed cases look for."""

    conversations: int = 0
    messages: int = 0
    agent_id: str = ""
    order_id: str = ""
    seconds: float = 0.0
    reused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per case")
    parser.add_argument("--sqlite", help="SQLite file to fill (default: a temporary file)")
    parser.add_argument("--reuse", action="store_true", help="time databases filled before")
    parser.add_argument("--reset", action="store_true", help="empty the PostgreSQL database")
    parser.add_argument("--quick", action="store_true", help="5,000 conversations, 100,000 msgs")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick:
        args.conversations, args.messages = 5_000, 100_000
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {"machine": machine(), "databases": {}}
    with tempfile.TemporaryDirectory(prefix="omnicrm-bench-list-") as tmp:
        sqlite_path = Path(args.sqlite) if args.sqlite else Path(tmp) / "list.db"
        urls = {"sqlite": f"sqlite+aiosqlite:///{sqlite_path}"}
        if os.environ.get("OMNICRM_BENCH_DATABASE_URL"):
            urls["postgresql"] = os.environ["OMNICRM_BENCH_DATABASE_URL"]
        for name, url in urls.items():
            results["databases"][name] = await _bench(name, url, args)
    write_json(Path(args.output), results)
    return 0


async def _bench(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = Database(url)
    try:
        if name == "postgresql" and args.reset:
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db.engine)
        filled = await _fill_or_reuse(db, args)
        rows = await _time_cases(db, filled, repeat=args.repeat)
    finally:
        await db.dispose()
    _print(name, filled, rows)
    return {"fill": vars(filled), "cases": rows}


async def _fill_or_reuse(db: Database, args: argparse.Namespace) -> Filled:
    async with db.reading() as session:
        present = int(await session.scalar(select(func.count()).select_from(Message)) or 0)
    if present and args.reuse:
        return await _describe(db)
    if present:
        raise SystemExit(f"{db.dialect}: the database holds messages; use --reuse or --reset")
    started = time.perf_counter()
    filled = await _fill(db, args.conversations, args.messages, random.Random(7))
    filled.seconds = time.perf_counter() - started
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execute(text("COMMIT"))
            await conn.execute(text("VACUUM ANALYZE"))
    return filled


async def _describe(db: Database) -> Filled:
    """A database filled by an earlier run: count it and pick the probe values again."""
    async with db.reading() as session:
        filled = Filled(reused=True)
        filled.conversations = int(
            await session.scalar(select(func.count()).select_from(Conversation)) or 0
        )
        filled.messages = int(await session.scalar(select(func.count()).select_from(Message)))
        filled.agent_id = str(await session.scalar(select(Agent.id).order_by(Agent.email)))
        probe = await session.scalar(
            select(Message.search_text).where(Message.search_text.like("%dh%")).limit(1)
        )
    filled.order_id = (probe or "dh000000").split("dh")[1][:6]
    return filled


async def _fill(db: Database, conversations: int, messages: int, rng: random.Random) -> Filled:
    filled = Filled()
    agents = [_agent(n) for n in range(20)]
    await _insert(db, Agent, agents)
    filled.agent_id = min(agents, key=lambda a: a["email"])["id"]
    people = max(1, conversations * 4 // 5)
    customers = [_customer(rng) for _ in range(people)]
    identities = [_identity(c, rng) for c in customers]
    for start in range(0, people, 10_000):
        await _insert(db, Customer, customers[start : start + 10_000])
        await _insert(db, Identity, identities[start : start + 10_000])
    per = messages / max(conversations, 1)
    batch: dict[Any, list[dict[str, Any]]] = {Conversation: [], Message: [], TimelineEvent: []}
    batch[Ticket] = []
    for n in range(conversations):
        identity = identities[n % people] if n < people else rng.choice(identities)
        conversation, said, events, tickets = _conversation(identity, agents, per, n, rng)
        batch[Conversation].append(conversation)
        batch[Message].extend(said)
        batch[TimelineEvent].extend(events)
        batch[Ticket].extend(tickets)
        filled.order_id = filled.order_id or _order_in(said)
        if len(batch[Message]) >= 20_000 or n == conversations - 1:
            for model in (Conversation, Message, TimelineEvent, Ticket):
                await _insert(db, model, batch[model])
                filled.messages += len(batch[model]) if model is Message else 0
                batch[model] = []
    filled.conversations = conversations
    return filled


async def _insert(db: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        async with db.engine.begin() as conn:
            await conn.execute(insert(model.__table__), rows)


def _agent(n: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "email": f"agent{n:02d}@bench.example",
        "name": f"{GIVEN[n % len(GIVEN)]} {n}",
        "role": "agent",
        "password_hash": "!",
        "active": True,
        "available": True,
    }


def _customer(rng: random.Random) -> dict[str, Any]:
    moment = END - timedelta(days=400)
    return {
        "id": new_id(),
        "name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
        "lifecycle_stage": "lead",
        "tags": rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))),
        "attributes": {},
        "created_at": moment,
        "updated_at": moment,
    }


def _identity(customer: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "id": new_id(),
        "customer_id": customer["id"],
        "channel": rng.choice(CHANNELS),
        "external_id": new_id(),
        "created_at": customer["created_at"],
    }


def _conversation(
    identity: dict[str, Any], agents: list[dict[str, Any]], per: float, n: int, rng: random.Random
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """One conversation with its messages, handoff events and (rarely) a ticket."""
    updated = END - timedelta(seconds=rng.randrange(365 * 86400))
    created = updated - timedelta(seconds=rng.randrange(3 * 86400))
    status = rng.choices(("resolved", "bot", "agent", "waiting_agent"), (70, 20, 5, 5))[0]
    handed = status in ("agent", "waiting_agent") or (status == "resolved" and rng.random() < 0.4)
    agent = rng.choice(agents)["id"] if handed and status != "waiting_agent" else None
    row = {
        "id": new_id(),
        "customer_id": identity["customer_id"],
        "identity_id": identity["id"],
        "channel": identity["channel"],
        "status": status,
        "csat": rng.randint(1, 5) if status == "resolved" and rng.random() < 0.3 else None,
        "assigned_agent_id": agent,
        "bot_state": {},
        "created_at": created,
        "updated_at": updated,
        "last_message_at": updated,
    }
    count = max(1, round(rng.uniform(per * 0.5, per * 1.5)))
    span = (updated - created) / count
    said = [_message(row, created + span * (i + 1), i, rng) for i in range(count)]
    # As in production, each message also has its timeline event (message_received, ...).
    events = [_message_event(row, message) for message in said]
    if handed:
        events.append(_event(row, created + span, "status_changed"))
    if agent:
        events.append(_event(row, created + span * 2, "claimed"))
    tickets = []
    if rng.random() < 0.03:
        severity = rng.choices(("urgent", "high", "normal", "low"), (1, 3, 10, 4))[0]
        tickets.append(_ticket(row, n, severity))
    return row, said, events, tickets


def _message(
    conversation: dict[str, Any], at: datetime, index: int, rng: random.Random
) -> dict[str, Any]:
    inbound = index % 2 == 0
    template = rng.choice(CUSTOMER_SAYS if inbound else BOT_SAYS)
    said = template.format(d=rng.randint(2, 7), h=rng.randint(1, 9), n=rng.randint(10**5, 10**6))
    return {
        "id": new_id(),
        "conversation_id": conversation["id"],
        "customer_id": conversation["customer_id"],
        "channel": conversation["channel"],
        "direction": "in" if inbound else "out",
        "author_type": "customer" if inbound else "bot",
        "text": said,
        "search_text": fold(said),
        "attachments": [],
        "status": "received" if inbound else "sent",
        "meta": {},
        "attempts": 0,
        "created_at": at,
    }


def _event(conversation: dict[str, Any], at: datetime, kind: str) -> dict[str, Any]:
    to = "waiting_agent" if kind == "status_changed" else "agent"
    return {
        "id": new_id(),
        "customer_id": conversation["customer_id"],
        "conversation_id": conversation["id"],
        "kind": kind,
        "actor_type": "system",
        "data": {"from": "bot", "to": to},
        "created_at": at,
    }


def _message_event(conversation: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    kind = "message_received" if message["direction"] == "in" else "reply_queued"
    event = _event(conversation, message["created_at"], kind)
    event["data"] = {"message_id": message["id"]}
    return event


def _ticket(conversation: dict[str, Any], n: int, severity: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "number": n + 1,
        "customer_id": conversation["customer_id"],
        "conversation_id": conversation["id"],
        "category": "complaint",
        "severity": severity,
        "status": "new",
        "subject": "bench",
        "description": "",
        "created_at": conversation["created_at"],
        "updated_at": conversation["updated_at"],
    }


def _order_in(said: list[dict[str, Any]]) -> str:
    for row in said:
        if "dh" in row["search_text"]:
            return str(row["search_text"].split("dh")[1][:6])
    return ""


@dataclass(frozen=True)
class Case:
    name: str
    params: dict[str, str]
    deep: bool = False


def _cases(filled: Filled) -> list[Case]:
    return [
        Case("first page", {}),
        Case("deep page (half way down the list)", {}, deep=True),
        Case("channel=zalo", {"channel": "zalo"}),
        Case("channel=zalo, 20 pages in", {"channel": "zalo"}, deep=True),
        Case("status=waiting_agent", {"status": "waiting_agent"}),
        Case("agent=<one of 20>", {"agent": filled.agent_id}),
        Case("from/to: one month", {"from": "2025-06-01", "to": "2025-06-30"}),
        Case("tag=vip", {"tag": "vip"}),
        Case("csat_min=4", {"csat_min": "4"}),
        Case("severity=urgent", {"severity": "urgent"}),
        Case("handled=bot", {"handled": "bot"}),
        Case("handled=agent", {"handled": "agent"}),
        Case("q=dat lich (common)", {"q": "dat lich"}),
        Case("q=dat lich, 20 pages in", {"q": "dat lich"}, deep=True),
        Case("q=<one order id> (rare)", {"q": f"DH{filled.order_id}"}),
        Case("q=<no match>", {"q": "không có đâu xyz"}),
        Case("q=dat lich + channel=sms", {"q": "dat lich", "channel": "sms"}),
    ]


async def _time_cases(db: Database, filled: Filled, *, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for case in _cases(filled):
        wanted = parse_filter(case.params, timezone=TIMEZONE)
        cursor = await _deep_cursor(db, case) if case.deep else None
        timings: list[float] = []
        found = 0
        for attempt in range(repeat + 1):  # the first run warms the caches, unmeasured
            started = time.perf_counter()
            async with db.reading() as session:
                page = await list_page(session, wanted, cursor=cursor, limit=PAGE)
            if attempt:
                timings.append((time.perf_counter() - started) * 1000)
            found = len(page.rows)
        rows.append(
            {
                "case": case.name,
                "rows": found,
                "median_ms": statistics.median(timings),
                "min_ms": min(timings),
                "max_ms": max(timings),
            }
        )
    return rows


async def _deep_cursor(db: Database, case: Case) -> str:
    """The cursor a reader would hold after paging through half of the matching rows."""
    wanted = parse_filter(case.params, timezone=TIMEZONE)
    async with db.reading() as session:
        total = 0
        cursor: str | None = None
        if not case.params:  # no filter: jump straight to the middle with one OFFSET query
            count = int(await session.scalar(select(func.count()).select_from(Conversation)))
            middle = (
                select(Conversation.updated_at, Conversation.id)
                .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
                .offset(count // 2)
                .limit(1)
            )
            updated_at, row_id = (await session.execute(middle)).one()
            return encode_cursor(updated_at, row_id)
        while total < 20 * PAGE:  # a reader twenty pages in
            page = await list_page(session, wanted, cursor=cursor, limit=PAGE)
            total += len(page.rows)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return cursor or ""


def _print(name: str, filled: Filled, rows: list[dict[str, Any]]) -> None:
    how = "reused" if filled.reused else f"filled in {filled.seconds:.0f} s"
    print(
        f"\n{name}: {filled.conversations:,} conversations, {filled.messages:,} messages "
        f"({how}); page size {PAGE}; median (min–max) of the timed runs"
    )
    width = max(len(row["case"]) for row in rows)
    print(f"{'case':<{width}}  {'rows':>4}  {'median ms':>9}  {'min':>7}  {'max':>7}")
    print(f"{'-' * width}  {'-' * 4}  {'-' * 9}  {'-' * 7}  {'-' * 7}")
    for row in rows:
        print(
            f"{row['case']:<{width}}  {row['rows']:>4}  {row['median_ms']:>9.1f}  "
            f"{row['min_ms']:>7.1f}  {row['max_ms']:>7.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
