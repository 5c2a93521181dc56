"""A local fake of Slack's Socket Mode WebSocket: says `hello`, pushes envelopes, records acks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server import serve_locally


@dataclass
class FakeSlackSocket:
    """`url` is what apps.connections.open hands out; `push` sends an envelope to the app."""

    url: str = ""
    acks: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    _runner: web.AppRunner | None = None
    _outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _acked: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> FakeSlackSocket:
        app = web.Application()
        app.router.add_get("/link/", self._socket)
        self._runner, base = await serve_locally(app)
        self.url = base.replace("http://", "ws://") + "/link/?ticket=fake-ticket&app_id=A0APP0001"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_connected(self, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            await self._connected.wait()

    def push_event(self, body: dict[str, Any]) -> str:
        """Queue an `events_api` envelope around an Events API body; returns its envelope id."""
        envelope_id = str(uuid.uuid4())
        self._outbox.put_nowait(
            {
                "envelope_id": envelope_id,
                "payload": body,
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, within: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                self._acked.clear()
                await self._acked.wait()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0APP0001"},
        }
        await ws.send_str(json.dumps(hello))
        self._connected.set()
        sender = asyncio.create_task(self._send(ws))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
                    self._acked.set()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            envelope = await self._outbox.get()
            await ws.send_str(json.dumps(envelope, ensure_ascii=False))
