"""Kill-and-restart: work stored before a stop is finished after the restart, exactly once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from crm_core.models import InboxEvent, Message
from tests.conftest import make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _statuses(runtime: object) -> tuple[list[str], list[str]]:
    db = runtime.db  # type: ignore[attr-defined]
    async with db.reading() as session:
        inbox = list((await session.execute(select(InboxEvent.status))).scalars())
        out = list(
            (
                await session.execute(select(Message.status).where(Message.direction == "out"))
            ).scalars()
        )
    return inbox, out


async def test_event_stored_but_not_processed_is_handled_after_restart(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    stopped = make_settings(database_url, fake_telegram.url, embedded_worker=False)
    async with running_app(stopped) as app:
        response = await app.telegram(updates.text_update(990001, "Xin chào"))
        assert response.status_code == 200
        assert await _statuses(app.runtime) == (["pending"], [])

    async with running_app(make_settings(database_url, fake_telegram.url)) as app:
        await fake_telegram.wait_for_sent(1)
        await app.settle()
        assert await _statuses(app.runtime) == (["processed"], ["sent"])

    async with running_app(make_settings(database_url, fake_telegram.url)) as app:
        await asyncio.sleep(0.5)  # a second restart must not redo anything
        assert len(fake_telegram.sent()) == 1


async def test_outbox_row_not_sent_is_sent_once_after_restart(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    stopped = make_settings(database_url, fake_telegram.url, embedded_worker=False)
    async with running_app(stopped) as app:
        await app.telegram(updates.text_update(990002, "hello"))
        async with app.runtime.db.reading() as session:
            event_id = await session.scalar(select(InboxEvent.id))
        outcome = await app.runtime.engine.process(event_id)
        assert outcome.replies == 1
        assert await _statuses(app.runtime) == (["processed"], ["queued"])
    assert fake_telegram.sent() == []

    for _ in range(2):
        async with running_app(make_settings(database_url, fake_telegram.url)) as app:
            await fake_telegram.wait_for_sent(1)
            await app.settle()
            await asyncio.sleep(0.3)
    assert len(fake_telegram.sent()) == 1
    async with running_app(make_settings(database_url, fake_telegram.url)) as app:
        async with app.runtime.db.reading() as session:
            count = await session.scalar(select(func.count()).select_from(Message))
        assert count == 2
