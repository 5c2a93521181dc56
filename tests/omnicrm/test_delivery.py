"""Outbound delivery through the dispatcher: Retry-After honoured, permanent errors not retried."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from crm_core.models import Message
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _outbound(harness: Harness) -> Message:
    async with harness.runtime.db.reading() as session:
        return (
            await session.execute(select(Message).where(Message.direction == "out"))
        ).scalar_one()


async def test_rate_limited_send_waits_for_retry_after_then_succeeds(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    started = asyncio.get_running_loop().time()
    await harness.telegram(updates.text_update(770001, "xin chào"))
    await fake_telegram.wait_for_sent(1, within=10)
    waited = asyncio.get_running_loop().time() - started
    assert waited >= 1.0
    await harness.settle()
    message = await _outbound(harness)
    assert message.status == "sent"
    assert message.attempts == 2
    assert [method for method, _ in fake_telegram.calls] == ["sendMessage:failed", "sendMessage"]


async def test_blocked_by_user_fails_without_retry(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next(
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    await harness.telegram(updates.text_update(770002, "xin chào"))
    await harness.settle()
    await asyncio.sleep(0.5)
    message = await _outbound(harness)
    assert message.status == "failed"
    assert "blocked" in (message.error or "")
    assert len(fake_telegram.calls) == 1
    failed = await harness.get("/api/v1/messages", status="failed")
    assert [m["id"] for m in failed.json()["items"]] == [message.id]


async def test_sends_are_paced_under_the_channel_cap(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = make_settings(database_url, fake_telegram.url, telegram_max_sends_per_second=10)
    async with running_app(settings) as app:
        for index in range(6):
            await app.telegram(updates.text_update(771000 + index, "hi", user_id=4300000 + index))
        await fake_telegram.wait_for_sent(6)
    stamps = fake_telegram.sent_at
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]
    # The dispatcher spaces sends 0.1 s apart; the fake server stamps arrivals, which
    # jitter by a few milliseconds on a loaded machine. Unpaced sends land ~1 ms apart.
    assert stamps[-1] - stamps[0] >= 0.45  # 5 intervals at 10 sends per second
    assert min(gaps) >= 0.05
