"""The Redis Streams bus against a real Redis: order, leases, takeover, dead letters, trimming."""

from __future__ import annotations

import asyncio
import pickle
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from conversations.bus import Publication
from conversations.redis_bus import ENTRY_FIELD, GROUP, RedisBus
from conversations.redis_consumer import StreamConsumer
from tests.redis_support import needs_redis, prefix, redis_client, until

__all__ = ["prefix", "redis_client"]  # fixtures
pytestmark = needs_redis


class Recorder:
    """A handler that remembers what it processed, and fails for the ids it is told to."""

    def __init__(self, *, failing: set[str] | None = None) -> None:
        self.done: list[str] = []
        self.attempts: dict[str, int] = defaultdict(int)
        self.failing = failing or set()
        self.given_up: list[tuple[str, str]] = []

    async def handle(self, event_id: str) -> None:
        self.attempts[event_id] += 1
        if event_id in self.failing:
            raise RuntimeError(f"cannot process {event_id}")
        self.done.append(event_id)

    async def give_up(self, event_id: str, reason: str) -> None:
        self.given_up.append((event_id, reason))


def make_consumer(bus: RedisBus, recorder: Recorder, **overrides: object) -> StreamConsumer:
    options: dict[str, object] = {
        "lease_seconds": 1.0,
        "claim_idle_seconds": 0.1,
        "max_deliveries": 3,
        "retry_delay_seconds": 0.0,
        "block_seconds": 0.05,
    }
    options.update(overrides)
    return StreamConsumer(
        bus,
        handle=recorder.handle,
        give_up=recorder.give_up,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def bus(redis_client: Redis, prefix: str) -> AsyncIterator[RedisBus]:
    yield RedisBus(redis_client, partitions=4, prefix=prefix, maxlen=100_000)


async def running(consumer: StreamConsumer) -> asyncio.Task[None]:
    return asyncio.create_task(consumer.run())


async def stopped(consumer: StreamConsumer, task: asyncio.Task[None]) -> None:
    await consumer.stop()
    await task


async def pending_total(bus: RedisBus) -> int:
    return sum((await bus.stats())["pending"].values())


async def test_entries_are_small_json_on_the_partition_of_their_key(bus: RedisBus) -> None:
    await bus.publish([Publication("ev-1", "telegram:42")])
    stream = bus.keys.stream(bus.partition_of("telegram:42"))
    [(_, fields)] = await bus.client.xrange(stream)
    assert list(fields) == [ENTRY_FIELD]
    assert '"event_id":"ev-1"' in fields[ENTRY_FIELD]
    assert '"key":"telegram:42"' in fields[ENTRY_FIELD]


async def test_each_key_is_consumed_in_publish_order(bus: RedisBus) -> None:
    keys = [f"telegram:{n}" for n in range(6)]
    published = [Publication(f"{key}/{i}", key) for i in range(15) for key in keys]
    for item in published:  # one XADD per webhook, as in production
        await bus.publish([item])
    recorder = Recorder()
    consumer = make_consumer(bus, recorder)
    task = await running(consumer)

    async def all_done() -> bool:
        return len(recorder.done) == len(published)

    await until(all_done)
    await stopped(consumer, task)
    for key in keys:
        seen = [event for event in recorder.done if event.startswith(f"{key}/")]
        assert seen == [f"{key}/{i}" for i in range(15)]
    assert sorted(recorder.done) == sorted(item.event_id for item in published)
    assert await pending_total(bus) == 0


async def test_two_workers_share_the_partitions_and_stop_releases_leases(bus: RedisBus) -> None:
    first, second = make_consumer(bus, Recorder()), make_consumer(bus, Recorder())
    first_task = await running(first)

    async def first_has_all() -> bool:
        return first.owned == {0, 1, 2, 3}

    await until(first_has_all)
    second_task = await running(second)

    async def shared() -> bool:
        return len(first.owned) == 2 and len(second.owned) == 2

    await until(shared)
    assert first.owned.isdisjoint(second.owned)
    for partition in first.owned:
        assert await bus.client.get(bus.keys.lease(partition)) == first.name
    await stopped(first, first_task)
    await stopped(second, second_task)
    leases = [await bus.client.get(bus.keys.lease(p)) for p in range(4)]
    assert leases == [None, None, None, None]


async def test_a_dead_workers_partition_is_taken_over_with_its_pending_entries(
    bus: RedisBus,
) -> None:
    await bus.ensure_groups()
    key = "zalo:7"
    partition = bus.partition_of(key)
    stream = bus.keys.stream(partition)
    await bus.publish([Publication(f"ev-{i}", key) for i in range(5)])
    # A worker that took the partition, read three entries and was killed: its lease will
    # expire, and the entries stay pending for it.
    await bus.client.set(bus.keys.lease(partition), "killed-worker", px=300)
    read = await bus.client.xreadgroup(GROUP, "killed-worker", {stream: ">"}, count=3)
    assert len(read[0][1]) == 3
    recorder = Recorder()
    consumer = make_consumer(bus, recorder)
    task = await running(consumer)

    async def all_done() -> bool:
        return len(recorder.done) == 5

    await until(all_done)
    await stopped(consumer, task)
    assert recorder.done == [f"ev-{i}" for i in range(5)]  # claimed ones first, each once
    assert await pending_total(bus) == 0
    info = await bus.client.xpending(stream, GROUP)
    assert info["pending"] == 0


async def test_poison_event_is_dead_lettered_and_others_keep_flowing(bus: RedisBus) -> None:
    key = "sms:+84900000001"
    await bus.publish([Publication("good-1", key), Publication("bad", key)])
    await bus.publish([Publication("good-2", key)])
    recorder = Recorder(failing={"bad"})
    consumer = make_consumer(bus, recorder, max_deliveries=3)
    task = await running(consumer)

    async def both_done() -> bool:
        return recorder.done == ["good-1", "good-2"]

    await until(both_done)
    assert recorder.attempts["bad"] == 3
    assert recorder.given_up == [("bad", "dead-lettered after 3 deliveries")]
    [letter] = await bus.dead_letters()
    assert letter.event_id() == "bad"
    assert letter.deliveries == 3
    assert letter.reason == "RuntimeError: cannot process bad"
    assert letter.source == bus.keys.stream(bus.partition_of(key))
    assert await pending_total(bus) == 0

    recorder.failing.clear()
    replayed = await bus.replay([letter.id])
    assert [item.id for item in replayed] == [letter.id]

    async def replay_done() -> bool:
        return recorder.done == ["good-1", "good-2", "bad"]

    await until(replay_done)
    await stopped(consumer, task)
    assert await bus.dead_letters() == []
    assert (await bus.stats())["dead"] == 0


async def test_a_pickle_or_garbage_entry_is_dead_lettered_unread(bus: RedisBus) -> None:
    await bus.ensure_groups()
    stream = bus.keys.stream(0)
    await bus.client.xadd(stream, {ENTRY_FIELD: pickle.dumps({"x": 1}).hex()})
    await bus.client.xadd(stream, {"other": "field"})
    recorder = Recorder()
    consumer = make_consumer(bus, recorder)
    task = await running(consumer)

    async def two_dead() -> bool:
        return len(await bus.dead_letters()) == 2

    await until(two_dead)
    await stopped(consumer, task)
    assert recorder.attempts == {}
    letters = await bus.dead_letters()
    assert [letter.reason for letter in letters] == ["not a bus entry", "not a bus entry"]
    assert [letter.event_id() for letter in letters] == [None, None]
    assert await bus.replay() == []  # nothing replayable; they stay for inspection
    assert len(await bus.dead_letters()) == 2


async def test_streams_are_trimmed_to_about_maxlen(redis_client: Redis, prefix: str) -> None:
    bus = RedisBus(redis_client, partitions=1, prefix=prefix, maxlen=100)
    for start in range(0, 2000, 100):
        await bus.publish([Publication(f"ev-{n}", "k") for n in range(start, start + 100)])
    length = await redis_client.xlen(bus.keys.stream(0))
    assert 100 <= length < 2000  # `~` trims whole macro nodes, so a little above 100
    assert (await bus.stats())["lengths"] == {0: length}


async def test_stop_finishes_the_event_in_hand_then_releases(bus: RedisBus) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    recorder = Recorder()

    async def slow(event_id: str) -> None:
        started.set()
        await release.wait()
        await recorder.handle(event_id)

    consumer = StreamConsumer(
        bus, handle=slow, give_up=recorder.give_up, lease_seconds=1.0, block_seconds=0.05
    )
    task = await running(consumer)
    await bus.publish([Publication("in-hand", "k")])
    await started.wait()
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0)  # the stop has begun while the event is still in hand
    assert not stopping.done()
    release.set()
    await stopping
    await task
    assert recorder.done == ["in-hand"]
    assert await pending_total(bus) == 0
    partition = bus.partition_of("k")
    assert await bus.client.get(bus.keys.lease(partition)) is None
    assert await bus.client.zscore(bus.keys.consumers, consumer.name) is None


async def test_an_outage_is_waited_out_not_counted_as_poison(bus: RedisBus) -> None:
    """A database outage is no reason to dead-letter: `transient` errors are not counted."""
    outage = {"left": 7}  # more failures than max_deliveries
    recorder = Recorder()

    async def flaky(event_id: str) -> None:
        if outage["left"]:
            outage["left"] -= 1
            raise ConnectionError("database unavailable")
        await recorder.handle(event_id)

    consumer = StreamConsumer(
        bus,
        handle=flaky,
        give_up=recorder.give_up,
        max_deliveries=3,
        retry_delay_seconds=0.0,
        block_seconds=0.05,
        transient=(OSError,),
    )
    task = await running(consumer)
    await bus.publish([Publication("during-outage", "k")])

    async def done() -> bool:
        return recorder.done == ["during-outage"]

    await until(done)
    await stopped(consumer, task)
    assert outage["left"] == 0
    assert await bus.dead_letters() == []
    assert recorder.given_up == []


async def test_a_redis_that_comes_back_empty_gets_its_groups_again(bus: RedisBus) -> None:
    """Redis restarted without its data (no AOF): streams and groups are gone; the workers
    create them again and go on consuming, instead of failing with NOGROUP forever."""
    recorder = Recorder()
    consumer = make_consumer(bus, recorder)
    task = await running(consumer)
    await bus.publish([Publication("before", "telegram:7")])

    async def first_done() -> bool:
        return recorder.done == ["before"]

    await until(first_done)
    streams = [bus.keys.stream(partition) for partition in range(bus.partitions)]
    await bus.client.delete(*streams)  # what an empty restart leaves: no stream, no group
    await bus.publish([Publication("after", "telegram:7")])

    async def second_done() -> bool:
        return recorder.done == ["before", "after"]

    await until(second_done)
    await stopped(consumer, task)
