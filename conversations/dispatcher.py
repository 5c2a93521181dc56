"""Outbound delivery: sends queued messages in order per conversation, retries, never loses one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from channels.base import ChannelAdapter, DeliveryError, DeliveryReceipt, OutboundMessage
from channels.file_links import FileLinks
from channels.outbound_files import MissingFile, load_files
from conversations.metrics import EngineMetrics
from conversations.ratelimit import Pacer, PerChatSpacing
from conversations.reply_context import reply_context
from crm_core.conversations import set_opt_out
from crm_core.db import Database
from crm_core.enums import Direction, MessageStatus
from crm_core.models import Conversation, Customer, Identity, Message
from crm_core.types import utcnow

log = logging.getLogger(__name__)

BATCH = 100
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0


def backoff_delay(attempt: int, *, rng: random.Random, retry_after: float | None = None) -> float:
    """Capped exponential backoff with full jitter, but never sooner than Retry-After."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempt - 1, 0))
    delay = rng.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True)
class Due:
    """An outbox row ready to send, with what its reply context needs from the same query."""

    message: Message
    identity: Identity
    subject: str | None
    customer_name: str | None


class Dispatcher:
    """Drains the outbox; one task per process in the embedded mode."""

    def __init__(
        self,
        *,
        db: Database,
        adapters: Mapping[str, ChannelAdapter],
        metrics: EngineMetrics,
        max_attempts: int,
        poll_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        file_links: FileLinks | None = None,
    ) -> None:
        self.db = db
        # Signed download links for the files of a message; without them, channels that need
        # a URL (MMS, a link in the text) fail those messages with a clear reason.
        self.file_links = file_links
        self.adapters = adapters
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._pacers = {
            name: Pacer(rate)
            for name, adapter in adapters.items()
            if (rate := getattr(adapter, "max_sends_per_second", None))
        }
        self._per_chat = {
            name: PerChatSpacing(interval)
            for name, adapter in adapters.items()
            if (interval := getattr(adapter, "min_seconds_between_sends_per_chat", None))
        }

    def wake(self) -> None:
        """Called after a commit that queued messages, so they go out without waiting a poll."""
        self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled: drain, then sleep until woken or the poll interval passes."""
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("outbox drain failed; retrying after the poll interval")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the wake-up, and the task would then never stop (seen in CI).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()

    async def drain(self) -> int:
        """Send everything due now; returns how many messages were attempted."""
        batch = await self._due()
        by_conversation: dict[str, list[Due]] = {}
        for due in batch:
            by_conversation.setdefault(due.message.conversation_id, []).append(due)
        await asyncio.gather(*(self._send_in_order(items) for items in by_conversation.values()))
        return len(batch)

    async def _due(self) -> list[Due]:
        now = self.clock()
        stmt = (
            select(Message, Identity, Conversation.subject, Customer.name)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Identity, Identity.id == Conversation.identity_id)
            .join(Customer, Customer.id == Message.customer_id)
            .where(
                Message.direction == Direction.OUT.value,
                Message.status == MessageStatus.QUEUED.value,
                Message.next_attempt_at <= now,
            )
            .order_by(Message.created_at, Message.id)
            .limit(BATCH)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(stmt)).all()
        return [Due(message, identity, subject, name) for message, identity, subject, name in rows]

    async def _send_in_order(self, items: list[Due]) -> None:
        for due in items:
            if not await self._send_one(due):
                return  # keep order: later messages of this conversation wait for this one

    async def _send_one(self, due: Due) -> bool:
        """Send one message; False when it will be retried (so later ones must wait)."""
        message, identity = due.message, due.identity
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            await self._fail(message, f"channel {message.channel} is not configured")
            return True
        if identity.opted_out_at is not None:
            # Blocked before any API call: the customer said STOP (or the provider told us).
            await self._fail(message, f"the customer opted out of {message.channel}")
            return True
        try:
            files = await load_files(
                self.db, message.attachments, links=self.file_links, now=self.clock()
            )
        except MissingFile as exc:
            await self._fail(message, str(exc), code="file_missing")
            return True
        outbound = OutboundMessage(
            message_id=message.id,
            channel=message.channel,
            external_user_id=identity.external_id,
            text=message.text,
            context=await reply_context(
                self.db, message, subject=due.subject, customer_name=due.customer_name
            ),
            author_name=message.author_name,
            metadata={"author_type": message.author_type},
            files=files,
        )
        if spacing := self._per_chat.get(message.channel):
            await spacing.wait(identity.external_id)
        if pacer := self._pacers.get(message.channel):
            await pacer.wait()
        try:
            receipt = await adapter.send(outbound)
        except DeliveryError as exc:
            if exc.opted_out:
                await self._mark_opted_out(identity, message, exc)
            return await self._after_error(message, exc)
        except Exception as exc:  # an adapter bug must not kill the dispatcher
            log.exception("adapter %s raised while sending %s", message.channel, message.id)
            return await self._after_error(message, DeliveryError(repr(exc)[:200], retryable=True))
        await self._succeed(message, receipt)
        return True

    async def _mark_opted_out(
        self, identity: Identity, message: Message, error: DeliveryError
    ) -> None:
        async with self.db.transaction() as session:
            row = await session.get_one(Identity, identity.id)
            set_opt_out(
                session,
                row,
                opted_out=True,
                source=f"{message.channel}:provider:{error.code or 'unsubscribed'}",
                actor_type="system",
                conversation_id=message.conversation_id,
            )

    async def _succeed(self, message: Message, receipt: DeliveryReceipt) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(
                    status=receipt.status,
                    external_id=receipt.external_id,
                    sent_at=self.clock(),
                    attempts=Message.attempts + 1,
                    next_attempt_at=None,
                    error=None,
                    meta={**message.meta, **receipt.meta},
                )
            )
        self.metrics.outbound.labels(channel=message.channel, status=receipt.status).inc()

    async def _after_error(self, message: Message, error: DeliveryError) -> bool:
        """Schedule a retry (False: later messages wait) or fail for good (True: go on)."""
        attempt = message.attempts + 1
        if not error.retryable or attempt >= self.max_attempts:
            await self._fail(message, error.reason, code=error.code)
            return True
        delay = backoff_delay(attempt, rng=self.rng, retry_after=error.retry_after)
        retry_at = self.clock() + timedelta(seconds=delay)
        async with self.db.transaction() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(attempts=attempt, next_attempt_at=retry_at, error=error.reason[:500])
            )
            # Later replies in the same conversation wait too, so order is kept.
            await session.execute(
                update(Message)
                .where(
                    Message.conversation_id == message.conversation_id,
                    Message.status == MessageStatus.QUEUED.value,
                    Message.id != message.id,
                    Message.created_at >= message.created_at,
                    Message.next_attempt_at < retry_at,
                )
                .values(next_attempt_at=retry_at)
            )
        self.metrics.outbound.labels(channel=message.channel, status="retry").inc()
        log.warning("send of %s failed (attempt %d), retry in %.1fs", message.id, attempt, delay)
        return False

    async def _fail(self, message: Message, reason: str, *, code: str | None = None) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message.id)
                .values(
                    status=MessageStatus.FAILED.value,
                    attempts=Message.attempts + 1,
                    next_attempt_at=None,
                    error=reason[:500],
                    meta={**message.meta, "error_code": code} if code else message.meta,
                )
            )
        self.metrics.outbound.labels(channel=message.channel, status="failed").inc()
        log.warning("message %s failed permanently", message.id)
