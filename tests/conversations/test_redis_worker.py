"""The Redis bus with the database and the engine: outbox relay, takeover, web + worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from channels.base import InboundEvent
from conversations import inbox
from conversations.redis_bus import GROUP, BusEntry, RedisBus, connect
from crm_core.db import Database
from crm_core.models import InboxEvent
from omnicrm import commands
from omnicrm.runtime import Runtime
from omnicrm.settings import Settings
from tests.conftest import make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram
from tests.redis_support import REDIS_URL, needs_redis, prefix, redis_client, until

__all__ = ["prefix", "redis_client"]  # fixtures
pytestmark = needs_redis


def event(n: int, key_user: str = "42") -> InboundEvent:
    return InboundEvent(
        channel="telegram",
        external_user_id=key_user,
        external_event_id=f"upd-{n}",
        text=f"message {n}",
        occurred_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
    )


def redis_settings(database_url: str, telegram_url: str, prefix: str, **extra: Any) -> Settings:
    return make_settings(
        database_url,
        telegram_url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        bus_lease_seconds=1.0,
        bus_claim_idle_seconds=0.1,
        bus_retry_seconds=0.0,
        outbox_relay_seconds=0.2,
        **extra,
    )


@asynccontextmanager
async def worker_process(settings: Settings) -> AsyncIterator[Runtime]:
    """What `omnicrm worker` runs, inside the test's event loop."""
    runtime = Runtime.build(settings.model_copy(update={"embedded_worker": True}))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def stream_entries(client: Redis, bus: RedisBus) -> list[BusEntry]:
    entries: list[BusEntry] = []
    for partition in range(bus.partitions):
        for _, fields in await client.xrange(bus.keys.stream(partition)):
            entries.append(BusEntry.model_validate_json(fields["entry"]))
    return entries


async def published_at(db: Database, event_id: str) -> datetime | None:
    async with db.reading() as session:
        return await session.scalar(
            select(InboxEvent.published_at).where(InboxEvent.id == event_id)
        )


async def test_the_relay_publishes_an_event_whose_publish_was_lost(
    database_url: str, redis_client: Redis, prefix: str
) -> None:
    db = Database(database_url)
    bus = RedisBus(redis_client, partitions=2, prefix=prefix)
    try:
        # The process died after the inbox commit and before XADD: stored, never published.
        [stored] = await inbox.store(db, [event(1)])
        assert await published_at(db, stored.id) is None
        assert await stream_entries(redis_client, bus) == []
        young = await inbox.relay_once(
            db, bus, unpublished_after=timedelta(hours=1), republish_after=timedelta(hours=1)
        )
        assert young == 0  # a webhook may still be publishing it
        relayed = await inbox.relay_once(
            db, bus, unpublished_after=timedelta(0), republish_after=timedelta(hours=1)
        )
        assert relayed == 1
        assert [e.event_id for e in await stream_entries(redis_client, bus)] == [stored.id]
        assert await published_at(db, stored.id) is not None
        again = await inbox.relay_once(
            db, bus, unpublished_after=timedelta(0), republish_after=timedelta(hours=1)
        )
        assert again == 0
    finally:
        await db.dispose()


async def test_receive_with_redis_down_stores_and_the_relay_publishes_later(
    database_url: str, redis_client: Redis, prefix: str
) -> None:
    db = Database(database_url)
    down = RedisBus(connect("redis://127.0.0.1:1/0"), partitions=2, prefix=prefix)
    up = RedisBus(redis_client, partitions=2, prefix=prefix)
    try:
        [stored] = await inbox.receive(db, down, [event(2)])  # no exception: the row is safe
        assert await published_at(db, stored.id) is None
        assert (await down.status())["ok"] is False
        relayed = await inbox.relay_once(
            db, up, unpublished_after=timedelta(0), republish_after=timedelta(hours=1)
        )
        assert relayed == 1
        assert [e.event_id for e in await stream_entries(redis_client, up)] == [stored.id]
    finally:
        await down.client.aclose()
        await db.dispose()


async def test_web_and_worker_processes_give_exactly_one_reply(
    database_url: str, fake_telegram: FakeTelegram, prefix: str, redis_client: Redis
) -> None:
    settings = redis_settings(database_url, fake_telegram.url, prefix, embedded_worker=False)
    async with running_app(settings) as web:
        health = (await web.client.get("/healthz")).json()
        assert health["bus"]["kind"] == "redis"
        assert health["bus"]["ok"] is True
        assert health["worker"] == "off"  # web only: it stores and publishes
        response = await web.telegram(updates.text_update(880001, "xin chào"))
        assert response.status_code == 200
        [row] = await _inbox_rows(web.runtime.db)
        assert row.status == "pending"
        assert row.published_at is not None
        async with worker_process(settings):
            await fake_telegram.wait_for_sent(1, within=30)
            await web.settle(within=30)
        assert len(fake_telegram.sent()) == 1
        [row] = await _inbox_rows(web.runtime.db)
        assert (row.status, row.attempts) == ("processed", 1)
        metrics = (await web.client.get("/metrics")).text
        assert 'omnicrm_bus_pending{partition="0"} 0.0' in metrics
        assert "omnicrm_bus_dead_letters 0.0" in metrics
        assert "omnicrm_bus_stream_length" in metrics


async def test_a_killed_workers_events_are_processed_once_by_the_next_worker(
    database_url: str, fake_telegram: FakeTelegram, prefix: str, redis_client: Redis
) -> None:
    settings = redis_settings(
        database_url, fake_telegram.url, prefix, embedded_worker=False, worker_partitions=1
    )
    async with running_app(settings) as web:
        bus = web.runtime.bus
        assert isinstance(bus, RedisBus)
        await bus.ensure_groups()
        for n in range(3):
            await web.telegram(updates.text_update(881000 + n, "xin chào", user_id=4200000800 + n))
        stream = bus.keys.stream(0)
        # A worker held the partition and read every entry, then was killed before its ACKs.
        await redis_client.set(bus.keys.lease(0), "killed-worker", px=300)
        read = await redis_client.xreadgroup(GROUP, "killed-worker", {stream: ">"}, count=10)
        assert len(read[0][1]) == 3
        async with worker_process(settings):
            await fake_telegram.wait_for_sent(3, within=30)
            await web.settle(within=30)

            async def nothing_pending() -> bool:
                return (await redis_client.xpending(stream, GROUP))["pending"] == 0

            await until(nothing_pending)
        assert len(fake_telegram.sent()) == 3
        chats = sorted(str(m["chat_id"]) for m in fake_telegram.sent())
        assert chats == ["4200000800", "4200000801", "4200000802"]
        rows = await _inbox_rows(web.runtime.db)
        assert [(r.status, r.attempts) for r in rows] == [("processed", 1)] * 3


async def test_dlq_commands_list_and_replay_a_parked_event(
    database_url: str, fake_telegram: FakeTelegram, prefix: str, redis_client: Redis
) -> None:
    settings = redis_settings(database_url, fake_telegram.url, prefix, embedded_worker=False)
    async with running_app(settings) as web:
        bus = web.runtime.bus
        assert isinstance(bus, RedisBus)
        await bus.ensure_groups()
        await web.telegram(updates.text_update(882001, "xin chào"))
        [row] = await _inbox_rows(web.runtime.db)
        # What the consumer does with a poison event: dead letter, inbox row parked as failed.
        partition = bus.partition_of(row.partition_key)
        [(_, [(entry_id, fields)])] = await redis_client.xreadgroup(
            GROUP, "w1", {bus.keys.stream(partition): ">"}
        )
        await bus.bury(partition, entry_id, fields["entry"], reason="boom", deliveries=5)
        await web.runtime.engine.record_failure(row.id, "boom", give_up=True)

        [listed] = await commands.dlq_list(settings)
        assert (listed.event_id, listed.deliveries, listed.reason) == (row.id, 5, "boom")
        assert await commands.dlq_replay(settings, [listed.id]) == 1
        assert await commands.dlq_list(settings) == []
        [row] = await _inbox_rows(web.runtime.db)
        assert row.status == "pending"
        async with worker_process(settings):
            await fake_telegram.wait_for_sent(1, within=30)
            await web.settle(within=30)
        assert len(fake_telegram.sent()) == 1


async def _inbox_rows(db: Database) -> list[InboxEvent]:
    async with db.reading() as session:
        result = await session.scalars(select(InboxEvent).order_by(InboxEvent.received_at))
        return list(result)
