"""A local fake of the Telegram Bot API (the methods we call), recording every request."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import serve_locally


@dataclass
class FakeTelegram:
    """Answers `POST /bot<token>/<method>` like Telegram; failures can be scripted per call."""

    token: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scripted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    delay_s: float = 0.0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _runner: web.AppRunner | None = None
    url: str = ""
    sent_event: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: list[float] = field(default_factory=list)  # loop time of each accepted send

    def sent(self) -> list[dict[str, Any]]:
        """Successful sendMessage payloads, in arrival order."""
        return [payload for method, payload in self.calls if method == "sendMessage"]

    def fail_next(self, status: int, body: dict[str, Any]) -> None:
        self.scripted.append((status, body))

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner, self.url = await serve_locally(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_sent(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` messages were accepted (or fail the test with what arrived)."""
        deadline = asyncio.get_running_loop().time() + within
        while len(self.sent()) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"expected {count} sendMessage calls, got {self.sent()}")
            self.sent_event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.2)):
                    await self.sent_event.wait()
        return self.sent()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        payload = await _payload(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.scripted:
            status, body = self.scripted.pop(0)
            self.calls.append((f"{method}:failed", payload))
            return web.json_response(body, status=status)
        self.calls.append((method, payload))
        if method == "sendMessage":
            self.sent_at.append(asyncio.get_running_loop().time())
        self.sent_event.set()
        if method == "sendMessage":
            return web.json_response({"ok": True, "result": self._message(payload)})
        if method == "getFile":
            file_id = str(payload["file_id"])
            result = {
                "file_id": file_id,
                "file_unique_id": "u1",
                "file_path": f"photos/{file_id}.jpg",
            }
            return web.json_response({"ok": True, "result": result})
        return web.json_response({"ok": True, "result": True})

    async def _file(self, request: web.Request) -> web.Response:
        """File downloads: the bytes are the path, so a test can tell which file came back."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        body = f"file:{request.match_info['path']}".encode()
        return web.Response(body=body, content_type="image/jpeg")

    def _message(self, payload: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(payload["chat_id"])
        return {
            "message_id": next(self._ids),
            "date": 1795000000,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 1, "is_bot": True, "first_name": "omnicrm"},
            "text": payload.get("text", ""),
        }


async def _payload(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    data: dict[str, Any] = {}
    for key, value in form.items():
        text = value if isinstance(value, str) else value.file.read().decode()
        try:
            data[key] = json.loads(text) if key in {"allowed_updates"} else text
        except json.JSONDecodeError:
            data[key] = text
    return data
