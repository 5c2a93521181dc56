"""Fault tests against the real engines: a worker killed with SIGKILL in a burst, Redis killed
and restarted in a burst, PostgreSQL unreachable. In each case every message is answered
exactly once, and a webhook never answers 200 for an event it did not store.

They need PostgreSQL (OMNICRM_TEST_DATABASE_URL) and, for the two Redis tests, Redis
(OMNICRM_TEST_REDIS_URL). The machine's servers are never stopped: PostgreSQL is cut through
a local proxy, and the Redis restart test kills and restarts a redis-server of its own.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from conversations.redis_bus import GROUP, StreamKeys, connect
from crm_core.db import Database
from crm_core.models import InboxEvent
from crm_core.types import utcnow
from omnicrm.api import webhooks
from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN, Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram
from tests.fault_support import (
    Children,
    CuttableProxy,
    PrivateRedis,
    needs_postgres,
    on_postgres,
    until,
    worker_env,
)
from tests.redis_support import REDIS_URL, needs_redis, prefix, redis_client  # noqa: F401

PARTITIONS = 4
FIRST_USER = 4300000000


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    spawned = Children(tmp_path)
    try:
        yield spawned
    finally:
        spawned.kill_all()


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[CuttableProxy]:
    """A cuttable way to the test database; `proxied(database_url, proxy)` is its URL."""
    url = make_url(database_url)
    running = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        yield running
    finally:
        await running.cut()


def proxied(database_url: str, proxy: CuttableProxy) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def message(number: int) -> dict[str, Any]:
    """Customer `number`'s first message (one message per customer: one reply per chat)."""
    return updates.text_update(
        700000 + number, "Xin chào", user_id=FIRST_USER + number, first=f"Khach{number}"
    )


async def post(app: Harness, numbers: range) -> list[httpx.Response]:
    return [await app.telegram(message(number)) for number in numbers]


def replies_per_chat(fake: FakeTelegram) -> collections.Counter[int]:
    return collections.Counter(int(payload["chat_id"]) for payload in fake.sent())


async def inbox_statuses(database_url: str) -> collections.Counter[str]:
    """Straight from the database, not through the app under test."""
    db = Database(database_url)
    try:
        async with db.reading() as session:
            rows = await session.execute(
                select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
            )
            return collections.Counter({status: int(count) for status, count in rows.all()})
    finally:
        await db.dispose()


async def assert_answered_once(
    fake: FakeTelegram, database_url: str, numbers: range, *, within: float = 40.0
) -> None:
    """Every customer got exactly one reply and every inbox row is processed."""
    await fake.wait_for_sent(len(numbers), within=within)

    async def all_processed() -> bool:
        return await inbox_statuses(database_url) == {"processed": len(numbers)}

    await until(all_processed, "every inbox event processed", within=within)
    await asyncio.sleep(1.0)  # room for a duplicate to show up
    assert replies_per_chat(fake) == {FIRST_USER + number: 1 for number in numbers}


# --- PostgreSQL unreachable ----------------------------------------------------------------


@needs_postgres
@on_postgres
async def test_database_down_webhooks_answer_503_and_recover(
    database_url: str,
    proxy: CuttableProxy,
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhooks, "STORE_TIMEOUT_SECONDS", 1.0)  # 10 s in production
    settings = make_settings(proxied(database_url, proxy), fake_telegram.url)
    async with running_app(settings) as app:
        try:
            await _outage_then_recovery(app, proxy, fake_telegram, database_url)
        finally:
            await proxy.restore()  # the app's shutdown needs its database


async def _outage_then_recovery(
    app: Harness, proxy: CuttableProxy, fake_telegram: FakeTelegram, database_url: str
) -> None:
    first = await post(app, range(1))
    assert [r.status_code for r in first] == [200]
    await fake_telegram.wait_for_sent(1)
    await app.settle()  # its reply is recorded as sent before the database goes

    await proxy.cut()
    during = await post(app, range(1, 4))
    assert [r.status_code for r in during] == [503, 503, 503]
    for response in during:
        assert response.json()["error"]["code"] == "unavailable"
        assert int(response.headers["retry-after"]) > 0
    assert await inbox_statuses(database_url) == {"processed": 1}  # nothing else stored

    await proxy.stall()  # now the database accepts connections and never answers
    async with asyncio.timeout(30):  # generous: it only tells an answer from a hang
        stalled = await post(app, range(1, 2))
    assert [r.status_code for r in stalled] == [503]  # after the store timeout, not a hang
    assert await inbox_statuses(database_url) == {"processed": 1}

    await proxy.restore()
    redelivered = await post(app, range(1, 4))  # Telegram retries what got a 503
    assert [r.json()["stored"] for r in redelivered] == [1, 1, 1]
    fresh = await post(app, range(4, 6))
    assert [r.json()["stored"] for r in fresh] == [1, 1]
    again = await post(app, range(1, 6))
    assert [r.json()["duplicates"] for r in again] == [1, 1, 1, 1, 1]
    await assert_answered_once(fake_telegram, database_url, range(6))


# --- a worker killed with SIGKILL in the middle of a burst ----------------------------------


def telegram_env(fake: FakeTelegram) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE": fake.url,
        "PUBLIC_URL": "http://testserver",
    }


# Quick takeover: a dead worker's partitions move after 3 s (not less: a worker starved of
# CPU for that long on a loaded machine would lose its leases), its unacknowledged entries
# can be claimed after 1.5 s idle.
FAST_BUS = {
    "WORKER_PARTITIONS": str(PARTITIONS),
    "BUS_LEASE_SECONDS": "3",
    "BUS_CLAIM_IDLE_SECONDS": "1.5",
    "BUS_RETRY_SECONDS": "0.1",
    "DISPATCH_POLL_SECONDS": "0.2",
}


def pid_of(consumer: str | None) -> int | None:
    """Consumer names are `<host>-<pid>-<random>`."""
    return int(consumer.rsplit("-", 2)[1]) if consumer else None


async def lease_holders(redis: Redis, keys: StreamKeys) -> list[int | None]:
    """The pid holding each partition's lease (None when free)."""
    return [pid_of(await redis.get(keys.lease(p))) for p in range(keys.partitions)]


async def pending_of(redis: Redis, keys: StreamKeys, pid: int) -> int:
    """Entries read by that process's consumer and not acknowledged, over all streams."""
    total = 0
    for partition in range(keys.partitions):
        summary = await redis.xpending(keys.stream(partition), GROUP)
        for consumer in summary.get("consumers") or []:
            if pid_of(consumer["name"]) == pid:
                total += int(consumer["pending"])
    return total


@needs_postgres
@needs_redis
@on_postgres
async def test_worker_killed_mid_burst_every_message_answered_once(
    database_url: str,
    proxy: CuttableProxy,
    fake_telegram: FakeTelegram,
    prefix: str,  # noqa: F811
    redis_client: Redis,  # noqa: F811
    children: Children,
) -> None:
    """Two `omnicrm worker` processes share the partitions; one is killed with SIGKILL while
    it holds unacknowledged entries, and the other takes them over.

    The victim reaches PostgreSQL through the proxy, which is cut before the burst: it keeps
    its leases and reads its partitions' entries, but cannot finish one, so entries are
    certainly in flight when it dies, and it never sends a reply (a kill between a provider's
    accept and the database write would repeat that reply: delivery to a channel is at least
    once, see the README).
    """
    assert REDIS_URL
    keys = StreamKeys(prefix, PARTITIONS)
    common = {
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        **FAST_BUS,
        **telegram_env(fake_telegram),
    }
    victim = children.omnicrm(
        "victim", "worker", env=worker_env(DATABASE_URL=proxied(database_url, proxy), **common)
    )
    survivor = children.omnicrm(
        "survivor", "worker", env=worker_env(DATABASE_URL=database_url, **common)
    )

    async def shared() -> bool:
        for process, name in ((victim, "victim"), (survivor, "survivor")):
            assert process.poll() is None, children.log(name)
        holders = await lease_holders(redis_client, keys)
        return collections.Counter(holders) == {victim.pid: 2, survivor.pid: 2}

    web = make_settings(
        database_url,
        fake_telegram.url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        worker_partitions=PARTITIONS,
        embedded_worker=False,
    )
    customers = range(48)
    async with running_app(web) as app:  # starts while the workers start
        await until(shared, "the two workers share the partitions", within=60)
        await proxy.cut()
        first_half = await post(app, customers[:24])
        assert [r.json()["stored"] for r in first_half] == [1] * 24

        async def in_flight() -> bool:
            victim_pending = await pending_of(redis_client, keys, victim.pid)
            return victim_pending > 0 and len(fake_telegram.sent()) > 0

        await until(in_flight, "the victim holds unacknowledged entries, the other replies")
        Children.kill(victim)
        second_half = await post(app, customers[24:])
        assert [r.json()["stored"] for r in second_half] == [1] * 24
        await assert_answered_once(fake_telegram, database_url, customers)
    assert await lease_holders(redis_client, keys) == [survivor.pid] * PARTITIONS
    assert await pending_of(redis_client, keys, victim.pid) == 0  # all claimed and acknowledged


# --- Redis killed and restarted in the middle of a burst ------------------------------------


async def redis_answers(url: str) -> bool:
    client = connect(url)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@needs_postgres
@needs_redis  # the machine's Redis is not touched, but redis-server must be installed
@on_postgres
async def test_redis_restarted_mid_burst_nothing_lost(
    database_url: str, fake_telegram: FakeTelegram, children: Children, tmp_path: Path
) -> None:
    """A private redis-server (AOF on) is killed with SIGKILL after a third of the burst and
    started again on the same port after the second third. Webhooks keep answering 200 (the
    events are stored), and the outbox relay publishes what could not be published."""
    redis = PrivateRedis(children, tmp_path)
    redis.start()
    await until(lambda: redis_answers(redis.url), "the private Redis answers")
    settings = make_settings(
        database_url,
        fake_telegram.url,
        redis_url=redis.url,
        redis_prefix="faults",
        worker_partitions=PARTITIONS,
        embedded_worker=True,  # `omnicrm serve --with-worker`: web and consumer in one process
        bus_lease_seconds=3.0,
        bus_claim_idle_seconds=1.5,
        bus_retry_seconds=0.1,
        outbox_relay_seconds=0.5,
        outbox_republish_seconds=2.0,
    )
    customers = range(48)
    async with running_app(settings) as app:
        before = await post(app, customers[:16])
        assert [r.json()["stored"] for r in before] == [1] * 16
        await fake_telegram.wait_for_sent(1)

        redis.kill()
        during = await post(app, customers[16:32])
        assert [r.json()["stored"] for r in during] == [1] * 16  # stored: a 200 is right

        restarted_at = utcnow()
        redis.start()
        await until(lambda: redis_answers(redis.url), "the private Redis answers again")
        after = await post(app, customers[32:])
        assert [r.json()["stored"] for r in after] == [1] * 16
        await assert_answered_once(fake_telegram, database_url, customers)
    published = await published_at(database_url)
    assert len(published) == len(customers)  # every event went over the bus in the end
    # The ones stored while Redis was down were published by the relay, after the restart.
    assert all(published[number] >= restarted_at for number in customers[16:32])


async def published_at(database_url: str) -> dict[int, datetime]:
    """When each customer's event was put on the bus (missing: never)."""
    db = Database(database_url)
    try:
        async with db.reading() as session:
            rows = await session.execute(
                select(InboxEvent.external_id, InboxEvent.published_at).where(
                    InboxEvent.published_at.is_not(None)
                )
            )
            return {int(external) - 700000: when for external, when in rows.all()}
    finally:
        await db.dispose()
