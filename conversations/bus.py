"""The bus between receiving and processing, partitioned to keep per-customer order."""

from __future__ import annotations

import asyncio
import zlib
from typing import Protocol


class Bus(Protocol):
    """Carries inbox event ids from the webhook to the workers."""

    kind: str

    def publish(self, event_id: str, *, key: str) -> None: ...

    async def next(self, partition: int) -> str: ...

    @property
    def partitions(self) -> int: ...

    def depth(self) -> int: ...


class InProcessBus:
    """asyncio queues, one per partition; the inbox table is the durable copy for restarts."""

    kind = "in-process"

    def __init__(self, partitions: int) -> None:
        self._queues: list[asyncio.Queue[str]] = [asyncio.Queue() for _ in range(partitions)]

    @property
    def partitions(self) -> int:
        return len(self._queues)

    def partition_of(self, key: str) -> int:
        """Stable across runs (unlike hash()), so one customer always lands on one worker."""
        return zlib.crc32(key.encode()) % len(self._queues)

    def publish(self, event_id: str, *, key: str) -> None:
        self._queues[self.partition_of(key)].put_nowait(event_id)

    async def next(self, partition: int) -> str:
        return await self._queues[partition].get()

    def depth(self) -> int:
        return sum(queue.qsize() for queue in self._queues)


class InboxPollingBus:
    """For a web process without an embedded worker: workers poll the inbox table instead."""

    kind = "database-inbox"
    partitions = 0

    def publish(self, event_id: str, *, key: str) -> None:
        return None

    async def next(self, partition: int) -> str:
        raise RuntimeError("the inbox-polling bus is not consumed in this process")

    def depth(self) -> int:
        return 0
