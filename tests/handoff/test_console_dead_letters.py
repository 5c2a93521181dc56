"""The dead-letter page: supervisors only, an explanation without Redis, replay with Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from conversations.redis_bus import ENTRY_FIELD, BusEntry, RedisBus
from crm_core.enums import Role
from crm_core.models import AuditLog, InboxEvent
from crm_core.types import utcnow
from handoff.console.i18n import translator
from tests.conftest import Harness, make_settings, running_app
from tests.fakes.telegram import FakeTelegram
from tests.handoff.console_helpers import ConsoleUser, console_user
from tests.redis_support import REDIS_URL, needs_redis, prefix, redis_client

__all__ = ["prefix", "redis_client"]  # fixtures

PAGE = "/console/dead-letters"
REPLAY = "/console/dead-letters/replay"


async def test_without_redis_the_page_explains_the_in_process_bus(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    page = await harness.client.get(PAGE, cookies=supervisor.cookies)
    assert page.status_code == 200
    assert 'id="dead-letters-in-process"' in page.text
    assert translator("vi")("dead_letters_in_process") in page.text
    assert REPLAY not in page.text  # nothing to replay, so no form

    replay = await harness.client.post(
        REPLAY, data={"csrf": supervisor.csrf, "all": "1"}, cookies=supervisor.cookies
    )
    assert (replay.status_code, replay.headers["location"]) == (303, PAGE)
    assert await harness.count(AuditLog, action="dead_letters_replay") == 0


async def test_agents_are_refused_the_page_and_the_replay(harness: Harness) -> None:
    agent = await console_user(harness, Role.AGENT)
    page = await harness.client.get(PAGE, cookies=agent.cookies)
    assert page.status_code == 403
    replay = await harness.client.post(
        REPLAY, data={"csrf": agent.csrf, "all": "1"}, cookies=agent.cookies
    )
    assert replay.status_code == 403
    anonymous = await harness.client.get(PAGE)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/console")


async def test_the_dashboard_links_to_the_page(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    dashboard = await harness.client.get("/console/dashboard", cookies=supervisor.cookies)
    assert dashboard.status_code == 200 and f'href="{PAGE}"' in dashboard.text


@pytest.fixture
async def redis_app(
    database_url: str, fake_telegram: FakeTelegram, prefix: str, redis_client: Redis
) -> AsyncIterator[Harness]:
    """The web app on the Redis bus under this test's prefix, with no worker consuming it."""
    settings = make_settings(
        database_url,
        fake_telegram.url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        embedded_worker=False,
    )
    async with running_app(settings) as running:
        yield running


async def _dead_event(harness: Harness, n: int, *, text: str) -> tuple[str, str]:
    """A failed inbox event whose bus entry was dead-lettered; returns (event id, letter id)."""
    bus = harness.runtime.bus
    assert isinstance(bus, RedisBus)
    key = f"telegram:{7000 + n}"
    async with harness.runtime.db.transaction() as session:
        event = InboxEvent(
            channel="telegram",
            external_id=f"dead-{n}",
            partition_key=key,
            status="failed",
            event={"text": text},
            attempts=5,
            error="RuntimeError",
            published_at=utcnow(),
        )
        session.add(event)
        await session.flush()
        event_id = event.id
    entry = BusEntry(event_id=event_id, key=key, published_at=utcnow()).model_dump_json()
    await bus.ensure_groups()
    await bus.bury(
        bus.partition_of(key), f"1-{n}", entry, reason=f"RuntimeError: boom {n}", deliveries=5
    )
    letters = await bus.dead_letters()
    return event_id, letters[-1].id


async def _on_stream(bus: RedisBus, key: str) -> list[str]:
    rows = await bus.client.xrange(bus.keys.stream(bus.partition_of(key)))
    return [BusEntry.model_validate_json(fields[ENTRY_FIELD]).event_id for _, fields in rows]


async def _status(harness: Harness, event_id: str) -> str:
    async with harness.runtime.db.reading() as session:
        return str(
            await session.scalar(select(InboxEvent.status).where(InboxEvent.id == event_id))
        )


@needs_redis
async def test_a_dead_letter_is_listed_and_replayed_one_then_all(redis_app: Harness) -> None:
    harness = redis_app
    bus = harness.runtime.bus
    assert isinstance(bus, RedisBus)
    first_event, first_letter = await _dead_event(harness, 1, text="chị Lan 0912345678")
    second_event, second_letter = await _dead_event(harness, 2, text="anh Bình")
    supervisor: ConsoleUser = await console_user(harness, Role.SUPERVISOR)

    page = await harness.client.get(PAGE, cookies=supervisor.cookies)
    assert page.status_code == 200
    assert translator("vi")("dead_letters_count", count=2) in page.text
    for event_id, letter_id, n in (
        (first_event, first_letter, 1),
        (second_event, second_letter, 2),
    ):
        assert f'id="dead-letter-{letter_id}"' in page.text
        assert event_id in page.text and f"RuntimeError: boom {n}" in page.text
    assert "telegram" in page.text
    assert "0912345678" not in page.text  # never the message text

    forged = await harness.client.post(
        REPLAY, data={"csrf": "not-the-token", "letter": first_letter}, cookies=supervisor.cookies
    )
    assert forged.status_code == 403
    assert len(await bus.dead_letters()) == 2
    assert await harness.count(AuditLog, action="dead_letters_replay") == 0

    one = await harness.client.post(
        REPLAY, data={"csrf": supervisor.csrf, "letter": first_letter}, cookies=supervisor.cookies
    )
    assert (one.status_code, one.headers["location"]) == (303, f"{PAGE}?replayed=1")
    assert [letter.id for letter in await bus.dead_letters()] == [second_letter]
    assert await _on_stream(bus, "telegram:7001") == [first_event]
    assert (await _status(harness, first_event), await _status(harness, second_event)) == (
        "pending",
        "failed",
    )

    again = await harness.client.post(
        REPLAY, data={"csrf": supervisor.csrf, "letter": first_letter}, cookies=supervisor.cookies
    )
    assert again.headers["location"] == f"{PAGE}?error=gone"

    everything = await harness.client.post(
        REPLAY, data={"csrf": supervisor.csrf, "all": "1"}, cookies=supervisor.cookies
    )
    assert everything.headers["location"] == f"{PAGE}?replayed=1"
    assert await bus.dead_letters() == []
    assert await _on_stream(bus, "telegram:7002") == [second_event]
    assert await _status(harness, second_event) == "pending"

    async with harness.runtime.db.reading() as session:
        rows = (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.action == "dead_letters_replay")
                .order_by(AuditLog.created_at)
            )
        ).all()
    assert [(r.actor_id, r.object_id, r.data) for r in rows] == [
        (supervisor.agent_id, first_letter, {"all": False, "replayed": 1}),
        (supervisor.agent_id, None, {"all": True, "replayed": 1}),
    ]

    empty = await harness.client.get(f"{PAGE}?replayed=1", cookies=supervisor.cookies)
    assert translator("vi")("dead_letters_count", count=0) in empty.text
    assert translator("vi")("dead_letters_replayed", count=1) in empty.text
