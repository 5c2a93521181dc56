"""Web-only processes plus a separate worker (`omnicrm worker`) sharing the database inbox."""

from __future__ import annotations

from omnicrm.runtime import Runtime
from tests.conftest import make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def test_worker_process_picks_up_what_a_web_only_process_stored(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    web_only = make_settings(database_url, fake_telegram.url, embedded_worker=False)
    async with running_app(web_only) as web:
        health = (await web.client.get("/healthz")).json()
        assert health["bus"]["kind"] == "database-inbox"
        assert health["worker"] == "off"
        worker = Runtime.build(make_settings(database_url, fake_telegram.url))
        await worker.start(poll_inbox=True)
        try:
            await web.telegram(updates.text_update(330001, "Xin chào"))
            await web.telegram(updates.text_update(330002, "cảm ơn", user_id=4200000999))
            sent = await fake_telegram.wait_for_sent(2)
            await web.settle()
        finally:
            await worker.stop()
    assert sorted(int(m["chat_id"]) for m in sent) == [4200000101, 4200000999]
