"""Consuming the Redis Streams bus: partition leases, the consumer group, claims, dead letters.

Per-customer order needs one reader per partition at a time, which a consumer group alone
does not give. So each partition has a lease (`SET NX PX`, renewed while the worker lives);
a worker holds up to a fair share of them, and takes over partitions whose lease expired.
On taking a partition it first claims (`XAUTOCLAIM`) what the previous owner left pending,
and only then reads new entries, so a takeover keeps the order too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pydantic import ValidationError
from redis.exceptions import RedisError

from conversations.inbox import relay_once
from conversations.redis_bus import ENTRY_FIELD, GROUP, BusEntry, RedisBus
from crm_core.db import Database

log = logging.getLogger(__name__)

Handler = Callable[[str], Awaitable[None]]  # processes one inbox event id; raises on failure
GiveUp = Callable[[str, str], Awaitable[None]]  # (event id, reason) once dead-lettered

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
CLAIM_COUNT = 100


def consumer_name() -> str:
    """Unique per process, readable in XINFO: host, pid and a random tail."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class StreamConsumer:
    """Runs one task per partition this worker holds the lease of."""

    def __init__(
        self,
        bus: RedisBus,
        *,
        handle: Handler,
        give_up: GiveUp,
        name: str | None = None,
        lease_seconds: float = 10.0,
        claim_idle_seconds: float = 30.0,
        max_deliveries: int = 5,
        retry_delay_seconds: float = 1.0,
        block_seconds: float = 1.0,
        batch: int = 16,
        transient: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.bus = bus
        self.handle = handle
        self.give_up = give_up
        self.name = name or consumer_name()
        self.lease_ms = int(lease_seconds * 1000)
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self.max_deliveries = max_deliveries
        self.retry_delay_s = retry_delay_seconds
        self.block_ms = max(1, int(block_seconds * 1000))
        self.batch = batch
        self.transient = transient  # e.g. database down: wait, it does not make an entry poison
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._leaving: set[int] = set()  # handing over, or lease lost: stop after this entry
        self._lost: set[int] = set()
        self._acks: dict[int, list[str]] = {}  # processed, acknowledged with the next flush
        self._stopping = asyncio.Event()

    @property
    def client(self):  # noqa: ANN201 - redis.asyncio.Redis
        return self.bus.client

    @property
    def owned(self) -> set[int]:
        return set(self.tasks)

    async def run(self) -> None:
        """Balance leases every third of the lease time until `stop` (Redis may start later)."""
        while not self._stopping.is_set():
            try:
                # Every round, not once: a Redis that comes back empty (no AOF) has lost the
                # groups, and reading would fail with NOGROUP until they exist again.
                await self.bus.ensure_groups()
                await self.balance()
            except (RedisError, OSError) as exc:
                log.warning("bus lease round failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.lease_ms / 3000)

    async def stop(self) -> None:
        """Finish the entries in hand, acknowledge them and release the leases."""
        self._stopping.set()
        while running := [task for task in self.tasks.values() if not task.done()]:
            await asyncio.gather(*running, return_exceptions=True)  # again if one just began
        with contextlib.suppress(RedisError, OSError):
            await self.client.zrem(self.bus.keys.consumers, self.name)

    async def balance(self) -> None:
        """Heartbeat, renew held leases, hand over above the fair share, take free ones."""
        keys = self.bus.keys
        now_ms = int(time.time() * 1000)
        await self.client.zadd(keys.consumers, {self.name: now_ms})
        await self.client.zremrangebyscore(keys.consumers, "-inf", now_ms - self.lease_ms)
        live = max(1, int(await self.client.zcard(keys.consumers)))
        share = math.ceil(keys.partitions / live)
        for partition in self._held():
            renewed = await self.client.eval(
                RENEW, 1, keys.lease(partition), self.name, self.lease_ms
            )
            if not renewed:
                log.warning("lost the lease of bus partition %d", partition)
                self._lost.add(partition)
                self._leaving.add(partition)
        held = self._held()
        for partition in sorted(held, reverse=True)[: max(0, len(held) - share)]:
            self._leaving.add(partition)  # a newcomer gets it once this one lets go
        for partition in range(keys.partitions):
            if self._stopping.is_set() or len(self.tasks) >= share:
                break
            if partition in self.tasks:
                continue
            if await self.client.set(keys.lease(partition), self.name, nx=True, px=self.lease_ms):
                self.tasks[partition] = asyncio.create_task(
                    self._consume(partition), name=f"bus-partition-{partition}"
                )

    def _held(self) -> list[int]:
        return [p for p in self.tasks if p not in self._leaving]

    def _keeps(self, partition: int) -> bool:
        return not self._stopping.is_set() and partition not in self._leaving

    async def _consume(self, partition: int) -> None:
        stream = self.bus.keys.stream(partition)
        log.info("bus partition %d taken by %s", partition, self.name)
        try:
            await self._take_over(partition)
        except (RedisError, OSError) as exc:
            log.warning("taking over bus partition %d failed: %s", partition, exc)
            await self._let_go(partition)  # a later lease round tries again
            return
        try:
            while self._keeps(partition):
                try:
                    reply = await self.client.xreadgroup(
                        GROUP, self.name, {stream: ">"}, count=self.batch, block=self.block_ms
                    )
                    for _, entries in reply or []:
                        for entry_id, fields in entries:
                            await self._deliver(partition, entry_id, fields, deliveries=1)
                    await self._flush_acks(partition)
                except (RedisError, OSError) as exc:
                    log.warning("reading bus partition %d failed: %s", partition, exc)
                    await self._pause(self.retry_delay_s)
        finally:
            await self._let_go(partition)

    async def _take_over(self, partition: int) -> None:
        """Claim what other consumers left pending, oldest first, before reading new entries.

        Entries another consumer read less than the claim idle time ago are waited for:
        reading past them would break the partition's order.
        """
        stream = self.bus.keys.stream(partition)
        while self._keeps(partition):
            cursor = "0-0"
            while self._keeps(partition):
                cursor, entries, *_ = await self.client.xautoclaim(
                    stream,
                    GROUP,
                    self.name,
                    min_idle_time=self.claim_idle_ms,
                    start_id=cursor,
                    count=CLAIM_COUNT,
                )
                for entry_id, fields in entries:
                    deliveries = await self._deliveries(stream, entry_id)
                    await self._deliver(partition, entry_id, fields, deliveries=deliveries)
                await self._flush_acks(partition)
                if cursor == "0-0":
                    break
            if not await self._others_pending(stream):
                return
            await self._pause(self.claim_idle_ms / 4000)

    async def _others_pending(self, stream: str) -> bool:
        summary = await self.client.xpending(stream, GROUP)
        return any(
            consumer["name"] != self.name and int(consumer["pending"]) > 0
            for consumer in summary.get("consumers") or []
        )

    async def _deliveries(self, stream: str, entry_id: str) -> int:
        """Redis's times-delivered counter (a claim counts as a delivery)."""
        rows = await self.client.xpending_range(stream, GROUP, entry_id, entry_id, 1)
        return int(rows[0]["times_delivered"]) if rows else 1

    async def _deliver(
        self, partition: int, entry_id: str, fields: dict[str, str] | None, *, deliveries: int
    ) -> None:
        """Process one entry, retrying in place (which keeps the order) up to the limit."""
        if not fields:  # trimmed or deleted while pending
            self._acks.setdefault(partition, []).append(entry_id)
            return
        raw = fields.get(ENTRY_FIELD, "")
        try:
            entry = BusEntry.model_validate_json(raw)
        except ValidationError:
            await self.bus.bury(
                partition, entry_id, raw or str(fields), reason="not a bus entry", deliveries=1
            )
            return
        attempt, error = deliveries, "delivered too many times"
        while attempt <= self.max_deliveries:
            try:
                await self.handle(entry.event_id)
            except Exception as exc:
                if not self._keeps(partition):
                    return  # left pending: the next owner claims it
                if isinstance(exc, self.transient):
                    await self._pause(self.retry_delay_s * 5)
                else:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    attempt += 1
                    await self._pause(self.retry_delay_s * min(attempt, 5))
                if not self._keeps(partition):
                    return
                continue
            self._acks.setdefault(partition, []).append(entry_id)
            return
        await self.bus.bury(partition, entry_id, raw, reason=error, deliveries=attempt - 1)
        await self.give_up(entry.event_id, f"dead-lettered after {attempt - 1} deliveries")

    async def _flush_acks(self, partition: int) -> None:
        """One XACK for the entries processed since the last flush (a crash before it only
        means they are delivered again, and processing skips what is already processed)."""
        done = self._acks.pop(partition, [])
        if done:
            await self.client.xack(self.bus.keys.stream(partition), GROUP, *done)

    async def _let_go(self, partition: int) -> None:
        """Acknowledge, then release the lease (unless lost) so another worker can take it."""
        with contextlib.suppress(RedisError, OSError):
            await self._flush_acks(partition)
        self._acks.pop(partition, None)
        self.tasks.pop(partition, None)
        lost = partition in self._lost
        self._leaving.discard(partition)
        self._lost.discard(partition)
        if lost:
            return
        with contextlib.suppress(RedisError, OSError):
            await self.client.eval(RELEASE, 1, self.bus.keys.lease(partition), self.name)
            log.info("bus partition %d released by %s", partition, self.name)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


async def relay_forever(
    db: Database,
    bus: RedisBus,
    *,
    interval_seconds: float,
    unpublished_after: timedelta,
    republish_after: timedelta,
) -> None:
    """The outbox relay: one worker at a time (a short Redis lock) publishes what was missed."""
    while True:
        try:
            took = await bus.client.set(
                bus.keys.relay_lock, "1", nx=True, px=int(interval_seconds * 1000)
            )
            if took:
                await relay_once(
                    db, bus, unpublished_after=unpublished_after, republish_after=republish_after
                )
        except (RedisError, OSError) as exc:
            log.warning("outbox relay round failed: %s", exc)
        except Exception:
            log.exception("outbox relay round failed")
        await asyncio.sleep(interval_seconds)
