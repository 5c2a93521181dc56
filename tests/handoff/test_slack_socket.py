"""Socket Mode: with an app-level token the same bolt app is fed over a (fake) WebSocket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket import FakeSlackSocket
from tests.fakes.telegram import FakeTelegram
from tests.handoff.test_slack import (
    fake_slack,  # noqa: F401  (fixture)
    hand_off,
    reply_event,
    slack_app,
)

APP_TOKEN = "xapp-1-A0APP0001-1-fakefakefake"


@pytest.fixture
async def fake_socket() -> AsyncIterator[FakeSlackSocket]:
    socket = await FakeSlackSocket().start()
    yield socket
    await socket.stop()


async def test_a_thread_reply_over_socket_mode_reaches_the_customer(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_slack: FakeSlack,  # noqa: F811
    fake_socket: FakeSlackSocket,
) -> None:
    fake_slack.app_token = APP_TOKEN
    fake_slack.socket_url = fake_socket.url
    async with slack_app(
        database_url, fake_telegram, fake_slack, slack_app_token=APP_TOKEN
    ) as running:
        await fake_socket.wait_connected()
        assert fake_slack.of("apps.connections.open")  # asked with the xapp- token
        _, thread_ts = await hand_off(running, fake_telegram)
        body = {
            "token": "legacy",
            "team_id": "T0TEAM001",
            "api_app_id": "A0APP0001",
            "type": "event_callback",
            "event_id": "Ev0SOCKET01",
            "event_time": int(time.time()),
            "event": reply_event(thread_ts, "Chào chị, em nghe qua socket"),
        }
        envelope_id = fake_socket.push_event(body)
        ack = await fake_socket.wait_for_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id}
        sent = await fake_telegram.wait_for_sent(2)
        assert sent[-1]["text"] == "Chào chị, em nghe qua socket"
        again = fake_socket.push_event(body)  # a redelivery of the same event changes nothing
        await fake_socket.wait_for_ack(again)
        await asyncio.sleep(0.3)
        await running.app.settle()
        assert len(fake_telegram.sent()) == 2
    assert fake_socket.connections == 1
