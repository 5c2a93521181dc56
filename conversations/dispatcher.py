"""Outbound delivery: sends queued messages in order per conversation, retries, never loses one.

Several workers may drain the same outbox. A worker first *claims* the due rows in a short
transaction: it moves their `next_attempt_at` forward by `claim_seconds` (a lease; the row stays
`queued`), on PostgreSQL under `FOR NO KEY UPDATE ... SKIP LOCKED` of the messages and their
conversations, so a second worker skips them instead of reading them as due; on SQLite the
claim runs under the single write lock (`BEGIN IMMEDIATE`). The lease value is the claim's token:
every later write about the row (sent, retry, failed) is a compare-and-set on `status = queued`
and that token, so a status set meanwhile (a customer erasure cancels the outbox) is kept. A
worker that dies after claiming leaves rows that fall due again when the lease runs out, and
another worker sends them (at least once: a crash between the API call and the write repeats it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

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
# How long a claim keeps other workers off a row; renewed before a send once half has passed
# (slow pacing), so it only bounds how late a dead worker's messages go out.
CLAIM_SECONDS = 300.0


def backoff_delay(attempt: int, *, rng: random.Random, retry_after: float | None = None) -> float:
    """Capped exponential backoff with full jitter, but never sooner than Retry-After."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempt - 1, 0))
    delay = rng.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)


@dataclass
class Due:
    """An outbox row this worker claimed, with what its reply context needs from the same
    query; `claimed_until` is the lease written to `next_attempt_at` (the claim's token)."""

    message: Message
    identity: Identity
    subject: str | None
    customer_name: str | None
    claimed_until: datetime
    batch_claim: datetime  # the token the rest of its batch still carries


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
        claim_seconds: float = CLAIM_SECONDS,
    ) -> None:
        self.db = db
        self.claim_for = timedelta(seconds=claim_seconds)
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
        self._held: dict[str, Due] = {}  # the current batch's claims, for release()
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
        batch = await self._claim()
        by_conversation: dict[str, list[Due]] = {}
        for due in batch:
            by_conversation.setdefault(due.message.conversation_id, []).append(due)
        await asyncio.gather(*(self._send_in_order(items) for items in by_conversation.values()))
        self._held = {}
        return len(batch)

    async def release(self) -> int:
        """Give back the claims of a batch cut short (graceful shutdown, after cancelling
        `run`), so another worker sends them now rather than when the lease runs out.

        A send cut off inside the API call may have reached the provider; it is sent again
        (at least once, as after a crash). Returns how many rows were released.
        """
        held, self._held = list(self._held.values()), {}
        if not held:
            return 0
        released = 0
        async with self.db.transaction() as session:
            for due in held:
                result = await session.execute(
                    update(Message)
                    .where(self._still_claimed(due))
                    .values(next_attempt_at=self.clock())
                    .execution_options(synchronize_session=False)
                )
                released += result.rowcount  # type: ignore[attr-defined]
        return released

    async def _claim(self) -> list[Due]:
        """Take the due rows for this worker (see the module docstring)."""
        now = self.clock()
        until = now + self.claim_for
        earlier = aliased(Message)
        # Order per conversation across workers: nothing goes while an earlier reply of its
        # conversation waits for a retry or is claimed by another worker.
        held_back = exists().where(
            earlier.conversation_id == Message.conversation_id,
            earlier.direction == Direction.OUT.value,
            earlier.status == MessageStatus.QUEUED.value,
            earlier.next_attempt_at > now,
            or_(
                earlier.created_at < Message.created_at,
                and_(earlier.created_at == Message.created_at, earlier.id < Message.id),
            ),
        )
        stmt = (
            select(Message, Identity, Conversation.subject, Customer.name)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Identity, Identity.id == Conversation.identity_id)
            .join(Customer, Customer.id == Message.customer_id)
            .where(
                Message.direction == Direction.OUT.value,
                Message.status == MessageStatus.QUEUED.value,
                Message.next_attempt_at <= now,
                ~held_back,
            )
            .order_by(Message.created_at, Message.id)
            .limit(BATCH)
        )
        if self.db.dialect == "postgresql":
            # Locking the conversation too keeps a second worker off its later replies while
            # this claim is not yet committed. NO KEY UPDATE: inserts of new messages (their
            # foreign key takes KEY SHARE) are not blocked.
            stmt = stmt.with_for_update(
                skip_locked=True, key_share=True, of=(Message, Conversation)
            )
        async with self.db.transaction() as session:
            rows = (await session.execute(stmt)).all()
            if rows:
                await session.execute(
                    update(Message)
                    .where(Message.id.in_([row[0].id for row in rows]))
                    .values(next_attempt_at=until)
                    .execution_options(synchronize_session=False)
                )
        batch = [
            Due(message, identity, subject, name, until, until)
            for message, identity, subject, name in rows
        ]
        self._held = {due.message.id: due for due in batch}
        return batch

    def _still_claimed(self, due: Due):  # noqa: ANN202 - a SQLAlchemy clause
        """The row is still queued under our claim (compare-and-set for every write)."""
        return and_(
            Message.id == due.message.id,
            Message.status == MessageStatus.QUEUED.value,
            Message.next_attempt_at == due.claimed_until,
        )

    async def _renew_if_needed(self, due: Due) -> bool:
        """Extend the claim once half of it has passed (pacing can hold a batch that long);
        False when the row is no longer ours to send."""
        now = self.clock()
        if now < due.claimed_until - self.claim_for / 2:
            return True
        until = now + self.claim_for
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Message)
                .where(self._still_claimed(due))
                .values(next_attempt_at=until)
                .execution_options(synchronize_session=False)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            log.warning("claim on %s was lost before sending; not sent", due.message.id)
            return False
        due.claimed_until = until
        return True

    async def _send_in_order(self, items: list[Due]) -> None:
        for due in items:
            if not await self._send_one(due):
                return  # keep order: later messages of this conversation wait for this one

    async def _send_one(self, due: Due) -> bool:
        """Send one message; False when it will be retried (so later ones must wait)."""
        message, identity = due.message, due.identity
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            await self._fail(due, f"channel {message.channel} is not configured")
            return True
        if identity.opted_out_at is not None:
            # Blocked before any API call: the customer said STOP (or the provider told us).
            await self._fail(due, f"the customer opted out of {message.channel}")
            return True
        try:
            files = await load_files(
                self.db, message.attachments, links=self.file_links, now=self.clock()
            )
        except MissingFile as exc:
            await self._fail(due, str(exc), code="file_missing")
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
        if not await self._renew_if_needed(due):
            return False  # another worker or a status change took it: later ones wait too
        try:
            receipt = await adapter.send(outbound)
        except DeliveryError as exc:
            if exc.opted_out:
                await self._mark_opted_out(identity, message, exc)
            return await self._after_error(due, exc)
        except Exception as exc:  # an adapter bug must not kill the dispatcher
            log.exception("adapter %s raised while sending %s", message.channel, message.id)
            error = DeliveryError(repr(exc)[:200], retryable=True)
            return await self._after_error(due, error)
        await self._succeed(due, receipt)
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

    async def _succeed(self, due: Due, receipt: DeliveryReceipt) -> None:
        message = due.message
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Message)
                .where(self._still_claimed(due))
                .values(
                    status=receipt.status,
                    external_id=receipt.external_id,
                    sent_at=self.clock(),
                    attempts=Message.attempts + 1,
                    next_attempt_at=None,
                    error=None,
                    meta={**message.meta, **receipt.meta},
                )
                .execution_options(synchronize_session=False)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            log.warning("%s was sent but its status changed meanwhile; left as it is", message.id)
        self.metrics.outbound.labels(channel=message.channel, status=receipt.status).inc()

    async def _after_error(self, due: Due, error: DeliveryError) -> bool:
        """Schedule a retry (False: later messages wait) or fail for good (True: go on)."""
        message = due.message
        attempt = message.attempts + 1
        if not error.retryable or attempt >= self.max_attempts:
            await self._fail(due, error.reason, code=error.code)
            return True
        delay = backoff_delay(attempt, rng=self.rng, retry_after=error.retry_after)
        retry_at = self.clock() + timedelta(seconds=delay)
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Message)
                .where(self._still_claimed(due))
                .values(attempts=attempt, next_attempt_at=retry_at, error=error.reason[:500])
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False  # no longer ours (e.g. cancelled): nothing to schedule
            # Later replies in the same conversation wait too, so order is kept; the ones this
            # worker claimed with it are released to the same time rather than at the lease end.
            await session.execute(
                update(Message)
                .where(
                    Message.conversation_id == message.conversation_id,
                    Message.status == MessageStatus.QUEUED.value,
                    Message.id != message.id,
                    Message.created_at >= message.created_at,
                    or_(
                        Message.next_attempt_at < retry_at,
                        Message.next_attempt_at == due.batch_claim,
                    ),
                )
                .values(next_attempt_at=retry_at)
                .execution_options(synchronize_session=False)
            )
        self.metrics.outbound.labels(channel=message.channel, status="retry").inc()
        log.warning("send of %s failed (attempt %d), retry in %.1fs", message.id, attempt, delay)
        return False

    async def _fail(self, due: Due, reason: str, *, code: str | None = None) -> None:
        message = due.message
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Message)
                .where(self._still_claimed(due))
                .values(
                    status=MessageStatus.FAILED.value,
                    attempts=Message.attempts + 1,
                    next_attempt_at=None,
                    error=reason[:500],
                    meta={**message.meta, "error_code": code} if code else message.meta,
                )
                .execution_options(synchronize_session=False)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            return  # its status changed meanwhile (e.g. cancelled): keep that one
        self.metrics.outbound.labels(channel=message.channel, status="failed").inc()
        log.warning("message %s failed permanently", message.id)
