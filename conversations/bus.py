"""The bus between receiving and processing, partitioned to keep per-customer order."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol


class Publication(NamedTuple):
    """One committed inbox event to put on the bus; `key` picks its partition."""

    event_id: str
    key: str


def partition_of(key: str, partitions: int) -> int:
    """Stable across runs and processes (unlike hash()), so one customer has one partition."""
    return zlib.crc32(key.encode()) % partitions


class Bus(Protocol):
    """Carries inbox event ids from the webhook to the workers."""

    kind: str
    # True when publishing leaves the process (Redis): the inbox row records `published_at`
    # and an outbox relay publishes what a crash left unpublished.
    tracks_publication: bool

    async def publish(self, items: Sequence[Publication]) -> None: ...

    async def next(self, partition: int) -> str: ...

    @property
    def partitions(self) -> int: ...

    def depth(self) -> int: ...

    async def status(self) -> dict[str, Any]: ...


class InProcessBus:
    """asyncio queues, one per partition; the inbox table is the durable copy for restarts."""

    kind = "in-process"
    tracks_publication = False

    def __init__(self, partitions: int) -> None:
        self._queues: list[asyncio.Queue[str]] = [asyncio.Queue() for _ in range(partitions)]

    @property
    def partitions(self) -> int:
        return len(self._queues)

    def partition_of(self, key: str) -> int:
        return partition_of(key, len(self._queues))

    def put(self, event_id: str, *, key: str) -> None:
        self._queues[self.partition_of(key)].put_nowait(event_id)

    async def publish(self, items: Sequence[Publication]) -> None:
        for item in items:
            self.put(item.event_id, key=item.key)

    async def next(self, partition: int) -> str:
        return await self._queues[partition].get()

    def depth(self) -> int:
        return sum(queue.qsize() for queue in self._queues)

    async def status(self) -> dict[str, Any]:
        return {"kind": self.kind, "depth": self.depth()}


class InboxPollingBus:
    """For a web process without an embedded worker: workers poll the inbox table instead."""

    kind = "database-inbox"
    tracks_publication = False
    partitions = 0

    async def publish(self, items: Sequence[Publication]) -> None:
        return None

    async def next(self, partition: int) -> str:
        raise RuntimeError("the inbox-polling bus is not consumed in this process")

    def depth(self) -> int:
        return 0

    async def status(self) -> dict[str, Any]:
        return {"kind": self.kind, "depth": 0}
