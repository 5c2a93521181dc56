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
    scripted: list[tuple[int, dict[str, Any], str | None]] = field(default_factory=list)
    delay_s: float = 0.0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _runner: web.AppRunner | None = None
    url: str = ""
    sent_event: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: list[float] = field(default_factory=list)  # loop time of each accepted send

    def sent(self) -> list[dict[str, Any]]:
        """Successful sendMessage payloads, in arrival order."""
        return [payload for method, payload in self.calls if method == "sendMessage"]

    def uploads(self) -> list[tuple[str, dict[str, Any]]]:
        """Accepted sendPhoto/sendDocument calls; the file field is an `Upload`."""
        return [(m, payload) for m, payload in self.calls if m in UPLOAD_METHODS]

    def fail_next(self, status: int, body: dict[str, Any], *, method: str | None = None) -> None:
        """The next call (of `method`, when given) gets this answer instead of succeeding."""
        self.scripted.append((status, body, method))

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
        scripted = next((s for s in self.scripted if s[2] in (None, method)), None)
        if scripted is not None:
            self.scripted.remove(scripted)
            status, body, _ = scripted
            self.calls.append((f"{method}:failed", payload))
            return web.json_response(body, status=status)
        self.calls.append((method, payload))
        if method == "sendMessage" or method in UPLOAD_METHODS:
            self.sent_at.append(asyncio.get_running_loop().time())
        self.sent_event.set()
        if method == "sendMessage" or method in UPLOAD_METHODS:
            return web.json_response({"ok": True, "result": self._message(payload, method)})
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

    def _message(self, payload: dict[str, Any], method: str = "sendMessage") -> dict[str, Any]:
        chat_id = int(payload["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": 1795000000,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 1, "is_bot": True, "first_name": "omnicrm"},
        }
        field = UPLOAD_METHODS.get(method)
        if field is None:
            return {**message, "text": payload.get("text", "")}
        upload = payload.get(field)
        size = len(upload.data) if isinstance(upload, Upload) else 0
        if method == "sendPhoto":
            message["photo"] = [
                {
                    "file_id": "p1",
                    "file_unique_id": "up1",
                    "width": 1,
                    "height": 1,
                    "file_size": size,
                }
            ]
        else:
            name = upload.filename if isinstance(upload, Upload) else None
            message["document"] = {
                "file_id": "d1",
                "file_unique_id": "ud1",
                "file_name": name,
                "file_size": size,
            }
        if "caption" in payload:
            message["caption"] = payload["caption"]
        return message


@dataclass(frozen=True)
class Upload:
    """A file sent as a multipart part, as Telegram receives it."""

    filename: str | None
    content_type: str | None
    data: bytes


# The methods that upload a file, and the field naming it (https://core.telegram.org/bots/api).
UPLOAD_METHODS = {"sendPhoto": "photo", "sendDocument": "document"}


async def _payload(request: web.Request) -> dict[str, Any]:
    """JSON or a form; multipart file parts are Uploads, `attach://<name>` values resolved."""
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    data: dict[str, Any] = {}
    parts: dict[str, Upload] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            parts[key] = Upload(value.filename, value.content_type, value.file.read())
            continue
        try:
            data[key] = json.loads(value) if key in {"allowed_updates"} else value
        except json.JSONDecodeError:
            data[key] = value
    for key, value in list(data.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            data[key] = parts.pop(value.removeprefix("attach://"), value)
    return {**data, **parts}
