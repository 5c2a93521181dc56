"""A lean fake Telegram Bot API that timestamps every sendMessage on arrival: the latency end."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

ReplyHandler = Callable[[int, float], None]


class FakeTelegram:
    """Answers `POST /bot<token>/<method>` like Telegram; reports (chat_id, arrival) per reply."""

    def __init__(self, token: str, on_reply: ReplyHandler) -> None:
        self.token = token
        self.on_reply = on_reply
        self.calls: Counter[str] = Counter()
        self.url = ""
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()  # before parsing, so our own overhead is not counted
        if request.match_info["token"] != self.token:
            self.calls["unauthorized"] += 1
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        self.calls[method] += 1
        if method != "sendMessage":
            return web.json_response({"ok": True, "result": True})
        payload = await _payload(request)
        chat_id = int(payload["chat_id"])
        self.on_reply(chat_id, arrived)
        result = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 1, "is_bot": True, "first_name": "omnicrm"},
            "text": str(payload.get("text", "")),
        }
        return web.json_response({"ok": True, "result": result})


async def _payload(request: web.Request) -> dict[str, Any]:
    """aiogram posts form fields; accept JSON too so another client would work."""
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}
