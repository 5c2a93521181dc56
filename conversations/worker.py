"""The in-process worker: one task per bus partition, so each customer's events stay in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC

from sqlalchemy import select

from channels.base import InboundEvent
from conversations.bus import Bus, Publication
from conversations.engine import ConversationEngine
from conversations.metrics import EngineMetrics
from crm_core.db import Database
from crm_core.enums import InboxStatus
from crm_core.models import InboxEvent
from nlu.backend import NluBackend
from nlu.types import ParseResult

log = logging.getLogger(__name__)

MAX_PROCESS_ATTEMPTS = 5


class Worker:
    """Consumes the bus, runs the engine, and tells the dispatcher when replies are queued."""

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        engine: ConversationEngine,
        metrics: EngineMetrics,
        on_replies: Callable[[], None],
        retry_delay_s: float = 1.0,
        nlu: NluBackend | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.engine = engine
        self.metrics = metrics
        self.on_replies = on_replies
        self.retry_delay_s = retry_delay_s
        self.nlu = nlu
        self._recovered: set[str] = set()

    async def recover(self) -> int:
        """Re-publish inbox events stored but not processed (a crash or restart in between)."""
        stmt = (
            select(InboxEvent.id, InboxEvent.partition_key)
            .where(InboxEvent.status == InboxStatus.PENDING.value)
            .order_by(InboxEvent.received_at, InboxEvent.id)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(stmt)).all()
        fresh = [Publication(event_id, key) for event_id, key in rows]
        fresh = [item for item in fresh if item.event_id not in self._recovered]
        self._recovered.update(item.event_id for item in fresh)
        await self.bus.publish(fresh)
        if fresh:
            log.info("recovered %d unprocessed inbox events", len(fresh))
        return len(fresh)

    async def poll_inbox(self, interval_s: float) -> None:
        """For a worker without a shared bus: pick up events other processes stored."""
        while True:
            try:
                await self.recover()
            except Exception:
                log.exception("inbox poll failed")
            await asyncio.sleep(interval_s)

    async def run_partition(self, partition: int) -> None:
        """Process this partition's events one at a time, forever."""
        while True:
            event_id = await self.bus.next(partition)
            await self.handle(event_id)

    async def handle(self, event_id: str) -> None:
        """Process one event; retry a few times in place, then park it as failed."""
        parsed = await self._parse_first(event_id)
        for attempt in range(1, MAX_PROCESS_ATTEMPTS + 1):
            started = time.perf_counter()
            try:
                outcome = await self.engine.process(event_id, parsed=parsed)
            except Exception as exc:
                self.metrics.processing_failures.inc()
                log.exception("processing inbox event %s failed (attempt %d)", event_id, attempt)
                give_up = attempt == MAX_PROCESS_ATTEMPTS
                await self._record_failure(event_id, repr(exc), give_up=give_up)
                if not give_up:
                    await asyncio.sleep(self.retry_delay_s * attempt)
                continue
            self.metrics.processing.observe(time.perf_counter() - started)
            self._recovered.discard(event_id)
            if outcome.replies:
                self.on_replies()
            return
        self._recovered.discard(event_id)

    async def process_once(self, event_id: str) -> None:
        """One attempt, for a shared bus that redelivers: a failure is counted and re-raised.

        The bus decides about retries (redelivery) and gives up with `give_up`.
        """
        parsed = await self._parse_first(event_id)
        started = time.perf_counter()
        try:
            outcome = await self.engine.process(event_id, parsed=parsed)
        except Exception as exc:
            self.metrics.processing_failures.inc()
            log.exception("processing inbox event %s failed", event_id)
            await self._record_failure(event_id, repr(exc), give_up=False)
            raise
        self.metrics.processing.observe(time.perf_counter() - started)
        if outcome.replies:
            self.on_replies()

    async def give_up(self, event_id: str, reason: str) -> None:
        """Park an event the bus dead-lettered: its inbox row becomes `failed`."""
        await self._record_failure(event_id, reason, give_up=True)

    async def _parse_first(self, event_id: str) -> ParseResult | None:
        """Run NLU before the engine opens its transaction: with Rasa it is an HTTP call.

        Only a pending customer message with text is parsed (the engine decides whether the
        bot answers; parsing one it then ignores costs little). Any failure here just leaves
        the parse to the bot's built-in engine.
        """
        if self.nlu is None:
            return None
        try:
            async with self.db.reading() as session:
                row = await session.get(InboxEvent, event_id)
                if row is None or row.status != InboxStatus.PENDING.value:
                    return None
                event = InboundEvent.model_validate(row.event)
            if not _worth_parsing(event):
                return None
            now = event.occurred_at
            if now.tzinfo is None:
                now = now.replace(tzinfo=UTC)  # stored instants are UTC
            return await self.nlu.parse(event.text, now=now)
        except Exception:
            log.exception("NLU before processing inbox event %s failed", event_id)
            return None

    async def _record_failure(self, event_id: str, error: str, *, give_up: bool) -> None:
        try:
            await self.engine.record_failure(event_id, error, give_up=give_up)
        except Exception:
            log.exception("could not record the failure of inbox event %s", event_id)


def _worth_parsing(event: InboundEvent) -> bool:
    """A message (or an opt-in keyword that may turn out to be one) with text, from a person."""
    return event.kind in ("message", "opt_in") and bool(event.text.strip()) and not event.automated
