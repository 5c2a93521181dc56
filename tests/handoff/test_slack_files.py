"""Files an agent attaches in the thread: fetched with the bot token from Slack only, stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import Message, StoredFile, TimelineEvent
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.handoff.test_slack import (
    Slacked,
    fake_slack,  # noqa: F401  (fixture)
    hand_off,
    reply_event,
    slack_app,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
LIMIT = 1024


@pytest.fixture
async def env(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_slack: FakeSlack,  # noqa: F811
) -> AsyncIterator[Slacked]:
    async with slack_app(database_url, fake_telegram, fake_slack, media_max_bytes=LIMIT) as run:
        async with run.app.runtime.db.transaction() as session:
            await create_agent(
                session,
                email="mai@example.com",
                role=Role.AGENT,
                password="long-enough-1",
                name="Mai",
            )
        yield run


def file_share(thread_ts: str, text: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    """An upload with a comment in a thread, as Slack's `file_share` message event."""
    return {
        **reply_event(thread_ts, text),
        "subtype": "file_share",
        "files": files,
        "upload": False,
        "display_as_bot": False,
    }


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> None:
    """Poll the database until `check` holds (the relay runs after Slack's ack)."""
    for _ in range(int(within / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def agent_messages(env: Slacked) -> list[Message]:
    async with env.app.runtime.db.reading() as session:
        rows = await session.scalars(
            select(Message).where(Message.direction == "out", Message.author_type == "agent")
        )
        return list(rows.all())


async def test_files_are_stored_and_refusals_told_in_the_thread(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    _, thread_ts = await hand_off(env, fake_telegram)
    good = env.slack.add_file("F0GOOD0001", name="bang-gia.png", data=PNG, mimetype="image/png")
    big = env.slack.add_file(
        "F0BIG00001", name="big.pdf", data=b"%" * 4096, mimetype="application/pdf"
    )
    evil = env.slack.add_file(
        "F0EVIL0001",
        name="x.png",
        data=PNG,
        mimetype="image/png",
        url="https://evil.example.com/files-pri/T0TEAM001-F0EVIL0001/download/x.png",
    )
    partial = {"id": "F0PART0001", "mode": "file_access", "file_access": "check_file_info"}
    env.slack.add_file(
        "F0PART0001", name="menu.pdf", data=b"%PDF-1.4 menu", mimetype="application/pdf"
    )
    event = file_share(thread_ts, "Gửi chị bảng giá &amp; menu", [good, big, evil, partial])
    assert (await env.event(event, event_id="Ev0FILES01")).status_code == 200

    await eventually(lambda: agent_messages(env))
    [message] = await agent_messages(env)
    assert message.text == "Gửi chị bảng giá & menu"
    assert message.meta.get("source") == "slack"
    names = [a["name"] for a in message.attachments]
    assert names == ["bang-gia.png", "menu.pdf"]
    assert all(a["ref"].startswith("file:") for a in message.attachments)
    assert message.attachments[0]["kind"] == "image"
    async with env.app.runtime.db.reading() as session:
        stored = (await session.scalars(select(StoredFile).order_by(StoredFile.name))).all()
    assert [(f.name, f.data) for f in stored] == [
        ("bang-gia.png", PNG),
        ("menu.pdf", b"%PDF-1.4 menu"),
    ]
    assert sorted(env.slack.downloads) == ["F0GOOD0001", "F0PART0001"]  # nothing else fetched

    warnings = [
        p["text"] for p in env.slack.posts(thread_ts=thread_ts) if ":warning:" in p["text"]
    ]
    assert len(warnings) == 2
    assert any("big.pdf" in w and str(LIMIT) in w for w in warnings)
    assert any("x.png" in w and "evil.example.com" in w for w in warnings)


async def test_only_refused_files_and_no_text_sends_nothing(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    _, thread_ts = await hand_off(env, fake_telegram)
    big = env.slack.add_file(
        "F0BIG00002", name="big.zip", data=b"z" * 4096, mimetype="application/zip"
    )
    assert (
        await env.event(file_share(thread_ts, "", [big]), event_id="Ev0FILES02")
    ).status_code == 200
    await env.slack.wait_for("chat.postMessage", 3)  # card, transcript, the warning
    await asyncio.sleep(0.4)
    assert await agent_messages(env) == []
    assert env.slack.downloads == []


async def test_a_note_with_a_file_stays_internal(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    _, thread_ts = await hand_off(env, fake_telegram)
    shot = env.slack.add_file("F0NOTE0001", name="shot.png", data=PNG, mimetype="image/png")
    event = file_share(thread_ts, "note: ảnh chụp màn hình của khách", [shot])
    assert (await env.event(event, event_id="Ev0FILES03")).status_code == 200
    await eventually(lambda: env.app.count(TimelineEvent, kind="note"))
    await asyncio.sleep(0.3)
    assert await agent_messages(env) == []
    assert env.slack.downloads == []
    assert await env.app.count(StoredFile) == 0
    assert len(fake_telegram.sent()) == 1


async def test_an_unauthorised_download_is_refused(
    env: Slacked, fake_telegram: FakeTelegram
) -> None:
    """Slack answers a download without a valid token with its sign-in page, not the file."""
    _, thread_ts = await hand_off(env, fake_telegram)
    doc = env.slack.add_file("F0AUTH0001", name="a.pdf", data=b"%PDF", mimetype="application/pdf")
    env.slack.download_token = "xoxb-rotated"  # our token no longer opens the file
    assert (
        await env.event(file_share(thread_ts, "xem file", [doc]), event_id="Ev0FILES04")
    ).status_code == 200
    await eventually(lambda: agent_messages(env))
    [message] = await agent_messages(env)
    assert message.text == "xem file" and message.attachments == []
