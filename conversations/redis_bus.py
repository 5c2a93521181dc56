"""The Redis Streams bus: one stream per partition, small validated JSON entries, a dead letter.

Publishing and the dead-letter stream live here; consuming (leases, consumer group, claims)
is in `conversations.redis_consumer`. SQL stays the source of truth: an entry only carries
an inbox event id, and the outbox relay (conversations.inbox) republishes what Redis lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from conversations.bus import Publication, partition_of
from crm_core.types import utcnow

log = logging.getLogger(__name__)

GROUP = "workers"
ENTRY_FIELD = "entry"


class BusEntry(BaseModel):
    """What one stream entry holds; anything else on the stream is dead-lettered unread."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    event_id: str = Field(min_length=1, max_length=64)
    key: str = Field(min_length=1, max_length=300)
    published_at: datetime


class DeadLetter(BaseModel):
    """An entry taken off its stream after too many deliveries (or unreadable)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ""  # the dead stream's entry id, filled in when read back
    source: str  # the stream it came from
    source_id: str
    entry: str = Field(max_length=4096)  # the raw entry text, kept for replay and inspection
    reason: str = Field(max_length=500)
    deliveries: int
    dead_at: datetime

    def event_id(self) -> str | None:
        """The inbox event id, when the entry was a valid one."""
        try:
            return BusEntry.model_validate_json(self.entry).event_id
        except ValidationError:
            return None


@dataclass(frozen=True)
class StreamKeys:
    """Every Redis key of one deployment, under a prefix (tests use their own)."""

    prefix: str
    partitions: int

    def stream(self, partition: int) -> str:
        return f"{self.prefix}:events:{partition}"

    def lease(self, partition: int) -> str:
        return f"{self.prefix}:lease:{partition}"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def consumers(self) -> str:
        """A sorted set of live worker names, scored by their last heartbeat (ms)."""
        return f"{self.prefix}:consumers"

    @property
    def relay_lock(self) -> str:
        return f"{self.prefix}:relay"


def connect(url: str) -> Redis:
    """One client (with its pool) per process; text replies, since entries are JSON."""
    return Redis.from_url(
        url, decode_responses=True, health_check_interval=30, socket_connect_timeout=5
    )


class RedisBus:
    """Publishes inbox event ids to `<prefix>:events:<p>` with `XADD ... MAXLEN ~`."""

    kind = "redis"
    tracks_publication = True

    def __init__(
        self, client: Redis, *, partitions: int, prefix: str = "omnicrm", maxlen: int = 100_000
    ) -> None:
        self.client = client
        self.keys = StreamKeys(prefix, partitions)
        self.maxlen = maxlen
        self._depth = 0  # the last length seen by `status`; `depth` must not block

    @property
    def partitions(self) -> int:
        return self.keys.partitions

    def partition_of(self, key: str) -> int:
        return partition_of(key, self.keys.partitions)

    async def publish(self, items: Sequence[Publication]) -> None:
        """One round trip for the batch; raises when Redis is unreachable."""
        if not items:
            return
        now = utcnow()
        pipe = self.client.pipeline(transaction=False)
        for item in items:
            entry = BusEntry(event_id=item.event_id, key=item.key, published_at=now)
            pipe.xadd(
                self.keys.stream(self.partition_of(item.key)),
                {ENTRY_FIELD: entry.model_dump_json()},
                maxlen=self.maxlen,
                approximate=True,
            )
        await pipe.execute()

    async def next(self, partition: int) -> str:
        raise RuntimeError("the Redis bus is consumed by conversations.redis_consumer")

    def depth(self) -> int:
        return self._depth

    async def ensure_groups(self) -> None:
        """Create the consumer group on every stream (and the stream) where it is missing."""
        for partition in range(self.partitions):
            try:
                await self.client.xgroup_create(
                    self.keys.stream(partition), GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def stats(self) -> dict[str, Any]:
        """Stream lengths, entries delivered but not acknowledged, and dead letters."""
        lengths: dict[int, int] = {}
        pending: dict[int, int] = {}
        for partition in range(self.partitions):
            stream = self.keys.stream(partition)
            lengths[partition] = int(await self.client.xlen(stream))
            try:
                summary = await self.client.xpending(stream, GROUP)
                pending[partition] = int(summary["pending"])
            except ResponseError:  # no stream or group yet
                pending[partition] = 0
        dead = int(await self.client.xlen(self.keys.dead))
        self._depth = sum(lengths.values())
        return {"lengths": lengths, "pending": pending, "dead": dead}

    async def status(self) -> dict[str, Any]:
        """For /healthz: reachable or not, and the numbers when it is."""
        try:
            stats = await self.stats()
        except (RedisError, OSError) as exc:
            return {"kind": self.kind, "ok": False, "error": type(exc).__name__}
        return {
            "kind": self.kind,
            "ok": True,
            "depth": self._depth,
            "pending": sum(stats["pending"].values()),
            "dead_letters": stats["dead"],
        }

    async def bury(
        self, partition: int, entry_id: str, raw: str, *, reason: str, deliveries: int
    ) -> None:
        """Move an entry to the dead-letter stream and acknowledge it on its own stream."""
        stream = self.keys.stream(partition)
        letter = DeadLetter(
            source=stream,
            source_id=entry_id,
            entry=raw[:4096],
            reason=reason[:500],
            deliveries=deliveries,
            dead_at=utcnow(),
        )
        fields = letter.model_dump(mode="json", exclude={"id"})
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.keys.dead, {k: str(v) for k, v in fields.items()})
        pipe.xack(stream, GROUP, entry_id)
        await pipe.execute()
        log.warning("bus entry %s of %s dead-lettered: %s", entry_id, stream, reason)

    async def dead_letters(self, *, limit: int = 1000) -> list[DeadLetter]:
        """The dead-letter stream, oldest first."""
        rows = await self.client.xrange(self.keys.dead, count=limit)
        return [_dead_letter(entry_id, fields) for entry_id, fields in rows]

    async def replay(self, ids: Sequence[str] | None = None) -> list[DeadLetter]:
        """Publish dead letters again (all when `ids` is None) and delete them from the dead
        stream; letters whose entry is unreadable are left there. Returns the replayed ones."""
        letters = await self.dead_letters(limit=100_000)
        if ids is not None:
            wanted = set(ids)
            letters = [letter for letter in letters if letter.id in wanted]
        replayed: list[DeadLetter] = []
        for letter in letters:
            try:
                entry = BusEntry.model_validate_json(letter.entry)
            except ValidationError:
                log.warning("dead letter %s is not a bus entry; left in place", letter.id)
                continue
            await self.publish([Publication(entry.event_id, entry.key)])
            await self.client.xdel(self.keys.dead, letter.id)
            replayed.append(letter)
        return replayed


def _dead_letter(entry_id: str, fields: dict[str, str]) -> DeadLetter:
    try:
        return DeadLetter.model_validate({**fields, "id": entry_id})
    except ValidationError:  # written by something else: show it rather than fail the list
        return DeadLetter(
            id=entry_id,
            source=fields.get("source", "?"),
            source_id=fields.get("source_id", "?"),
            entry=str(fields)[:4096],
            reason="unreadable dead letter",
            deliveries=0,
            dead_at=utcnow(),
        )
