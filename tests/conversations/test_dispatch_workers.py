"""Several dispatchers (one per worker process) drain one outbox: each message is sent once,
in order per conversation, and a crashed sender's claim runs out so another worker sends it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from channels.base import DeliveryError, DeliveryReceipt, OutboundMessage
from conversations.dispatcher import Dispatcher
from conversations.metrics import EngineMetrics
from crm_core import customers
from crm_core.conversations import add_outbound, open_or_continue
from crm_core.db import Database
from crm_core.models import Message

CONVERSATIONS = 30
PER_CONVERSATION = 4


class RecordingChannel:
    """A fake Telegram: records every send, yields to the loop so the workers interleave."""

    name = "telegram"
    max_sends_per_second = None

    def __init__(self, *, fail_first: int = 0) -> None:
        self.sent: list[tuple[str, str]] = []  # (chat, text)
        self.fail_first = fail_first

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        await asyncio.sleep(0)
        if self.fail_first:
            self.fail_first -= 1
            raise DeliveryError("flood wait", retryable=True, retry_after=1)
        self.sent.append((message.external_user_id, message.text))
        return DeliveryReceipt(external_id=f"tg-{len(self.sent)}")

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two Database objects on one database: what two worker processes have."""
    first, second = Database(database_url), Database(database_url)
    yield first, second
    await first.dispose()
    await second.dispose()


def _dispatcher(
    db: Database, channel: RecordingChannel, clock: Callable[[], datetime] | None = None
) -> Dispatcher:
    extra = {"clock": clock} if clock else {}
    return Dispatcher(
        db=db,
        adapters={"telegram": channel},  # type: ignore[dict-item]
        metrics=EngineMetrics(),
        max_attempts=5,
        poll_seconds=1.0,
        **extra,
    )


async def _queue(db: Database, chats: int, per_chat: int) -> list[str]:
    ids = []
    for chat in range(chats):
        async with db.transaction() as session:
            resolved = await customers.resolve_identity(
                session, channel="telegram", external_id=f"77000{chat:03d}"
            )
            conversation, _ = await open_or_continue(
                session, customer_id=resolved.customer.id, identity=resolved.identity
            )
            for n in range(per_chat):
                message = add_outbound(session, conversation, text=f"reply {n}", author_type="bot")
                ids.append(message.id)
    return ids


async def _drain_until_empty(dispatcher: Dispatcher) -> None:
    while await dispatcher.drain():
        pass


async def _statuses(db: Database) -> Counter[str]:
    async with db.reading() as session:
        return Counter((await session.scalars(select(Message.status))).all())


async def test_two_workers_send_each_message_exactly_once_and_in_order(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    await _queue(first, CONVERSATIONS, PER_CONVERSATION)
    channel = RecordingChannel()
    await asyncio.gather(
        _drain_until_empty(_dispatcher(first, channel)),
        _drain_until_empty(_dispatcher(second, channel)),
    )
    total = CONVERSATIONS * PER_CONVERSATION
    assert len(channel.sent) == total
    assert len(set(channel.sent)) == total  # nothing sent twice
    for chat in range(CONVERSATIONS):
        texts = [text for to, text in channel.sent if to == f"77000{chat:03d}"]
        assert texts == [f"reply {n}" for n in range(PER_CONVERSATION)]
    assert await _statuses(first) == Counter({"sent": total})


async def test_a_claimed_message_waits_for_its_claim_to_run_out(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    (message_id,) = await _queue(first, 1, 1)
    clock = Clock(datetime.now(UTC))
    crashed = _dispatcher(first, RecordingChannel(), clock)
    claimed = await crashed._claim()  # the worker took it, then died before sending
    assert [due.message.id for due in claimed] == [message_id]
    channel = RecordingChannel()
    survivor = _dispatcher(second, channel, clock)
    assert await survivor.drain() == 0  # still claimed: not sent a second time
    clock.now += crashed.claim_for + timedelta(seconds=1)
    assert await survivor.drain() == 1
    assert channel.sent == [("77000000", "reply 0")]
    assert await _statuses(second) == Counter({"sent": 1})


async def test_a_status_changed_while_sending_is_not_overwritten(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    (message_id,) = await _queue(first, 1, 1)

    class ErasedMeanwhile(RecordingChannel):
        async def send(self, message: OutboundMessage) -> DeliveryReceipt:
            # The customer is erased while the API call is in flight: the outbox is cancelled.
            async with second.transaction() as session:
                await session.execute(
                    update(Message)
                    .where(Message.id == message.message_id)
                    .values(status="failed", error="customer erased", next_attempt_at=None)
                )
            return await super().send(message)

    channel = ErasedMeanwhile()
    assert await _dispatcher(first, channel).drain() == 1
    async with first.reading() as session:
        row = await session.get_one(Message, message_id)
    assert (row.status, row.error, row.external_id) == ("failed", "customer erased", None)
    assert len(channel.sent) == 1


async def test_a_retry_releases_the_later_messages_of_the_conversation(
    databases: tuple[Database, Database],
) -> None:
    first, _ = databases
    await _queue(first, 1, 3)
    clock = Clock(datetime.now(UTC))
    channel = RecordingChannel(fail_first=1)
    dispatcher = _dispatcher(first, channel, clock)
    assert await dispatcher.drain() == 3  # the first fails (retry in ≥ 1 s), the rest wait
    assert channel.sent == []
    clock.now += timedelta(seconds=2)
    # Well before the claim would run out, the retry and everything after it go, in order.
    assert await dispatcher.drain() == 3
    assert [text for _, text in channel.sent] == ["reply 0", "reply 1", "reply 2"]


async def test_a_stopping_worker_releases_what_it_had_not_sent(
    databases: tuple[Database, Database],
) -> None:
    first, second = databases
    await _queue(first, 2, 2)
    clock = Clock(datetime.now(UTC))

    class Hangs(RecordingChannel):
        def __init__(self) -> None:
            super().__init__()
            self.entered = asyncio.Event()

        async def send(self, message: OutboundMessage) -> DeliveryReceipt:
            self.entered.set()
            await asyncio.Event().wait()  # the provider never answers
            raise AssertionError("unreachable")

    hangs = Hangs()
    stopping = _dispatcher(first, hangs, clock)
    task = asyncio.create_task(stopping.drain())
    await hangs.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stopping.release() == 4  # two in flight, two waiting behind them
    assert await stopping.release() == 0
    channel = RecordingChannel()
    assert await _dispatcher(second, channel, clock).drain() == 4  # at once, not after the lease
    assert sorted(channel.sent) == [
        ("77000000", "reply 0"),
        ("77000000", "reply 1"),
        ("77000001", "reply 0"),
        ("77000001", "reply 1"),
    ]
