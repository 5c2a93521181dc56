"""Live updates: the console's Server-Sent Events, over a real HTTP server (uvicorn).

httpx's in-memory ASGI transport waits for a response to finish before returning it, so a
stream that never ends needs a real socket.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from handoff.console.live import STREAMS, watch
from omnicrm.app import create_app
from tests.conftest import Harness, make_settings
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram
from tests.handoff.test_console_inbox import add_agent, handed_off, login


@pytest.fixture
async def served(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    """The whole app behind uvicorn on a free local port; the harness talks HTTP to it."""
    settings = make_settings(
        database_url, fake_telegram.url, handoff_auto_assign=False, handoff_tick_seconds=3600
    )
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield Harness(client, app.state.runtime)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


async def next_event(lines: AsyncIterator[str], within: float) -> str:
    """The name of the next `event:` on the stream (comments and ids skipped)."""
    async with asyncio.timeout(within):
        async for line in lines:
            if line.startswith("event: "):
                return line.removeprefix("event: ")
    raise AssertionError("the stream ended")


async def test_a_customer_message_reaches_the_open_conversation_page_live(
    served: Harness, fake_telegram: FakeTelegram
) -> None:
    harness = served
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(harness, fake_telegram)

    anonymous = await harness.client.get(f"/console/events?conversation={conversation_id}")
    assert anonymous.status_code == 401
    unknown = await harness.client.get("/console/events?conversation=nope", cookies=who.cookies)
    assert unknown.status_code == 404

    async with harness.client.stream(
        "GET", f"/console/events?conversation={conversation_id}", cookies=who.cookies
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        first = await anext(lines)
        assert first.startswith("retry:")
        await asyncio.sleep(1.2)  # the stream has taken its first fingerprint
        await harness.telegram(
            updates.text_update(201, "<b>còn</b> ở đó không?", user_id=4200000101)
        )
        assert await next_event(lines, within=5) == "conversation"
        assert STREAMS.open == 1
    for _ in range(100):  # the client went away: the server stops polling for it
        if not STREAMS.open:
            break
        await asyncio.sleep(0.05)
    assert STREAMS.open == 0
    fragment = await harness.client.get(
        f"/console/conversations/{conversation_id}/fragment", cookies=who.cookies
    )
    assert "&lt;b&gt;còn&lt;/b&gt; ở đó không?" in fragment.text


async def test_the_queue_stream_announces_a_new_handoff(
    served: Harness, fake_telegram: FakeTelegram
) -> None:
    harness = served
    await add_agent(harness)
    who = await login(harness.client, harness)
    assert (await harness.client.get("/console/events")).status_code == 401
    async with harness.client.stream("GET", "/console/events", cookies=who.cookies) as stream:
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith("retry:")
        await asyncio.sleep(1.2)
        await handed_off(harness, fake_telegram)
        assert await next_event(lines, within=5) == "queue"


async def test_a_page_rendered_before_a_change_is_told_at_once() -> None:
    """`since` (or Last-Event-ID) older than the database: an event without waiting."""
    versions = iter(["v2", "v2", "v3"])

    async def fingerprint() -> str | None:
        return next(versions, "v3")

    chunks = watch(
        fingerprint,
        event="conversation",
        data={"conversation": "c1"},
        seen="v1",
        still_allowed=lambda: True,
        poll_s=0.01,
        heartbeat_s=0.02,
        max_s=0.2,
    )
    received = [chunk async for chunk in chunks]
    assert received[0].startswith(b"retry: 3000")
    events = [chunk for chunk in received if chunk.startswith(b"id: ")]
    assert events == [
        b'id: v2\nevent: conversation\ndata: {"conversation": "c1"}\n\n',
        b'id: v3\nevent: conversation\ndata: {"conversation": "c1"}\n\n',
    ]
    assert b": heartbeat\n\n" in received  # quiet for longer than heartbeat_s
    assert len(received) < 40  # it ended by itself after max_s


async def test_a_stream_ends_when_the_session_expires_or_the_conversation_goes() -> None:
    async def same() -> str | None:
        return "v1"

    expired = watch(
        same,
        event="queue",
        data={},
        seen=None,
        still_allowed=lambda: False,
        poll_s=0.01,
        heartbeat_s=0.02,
        max_s=5,
    )
    async with asyncio.timeout(2):
        assert [chunk async for chunk in expired] == [b"retry: 3000\n: connected\n\n"]

    async def gone() -> str | None:
        return None

    vanished = watch(gone, event="conversation", data={}, seen="v1", still_allowed=lambda: True)
    async with asyncio.timeout(2):
        assert [chunk async for chunk in vanished] == [b"retry: 3000\n: connected\n\n"]
