"""A local fake of the Slack Web API methods the inbox calls, plus Slack-style request signing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.server import serve_locally

BOT_USER_ID = "U0BOT0001"
BOT_ID = "B0BOT0001"


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: `v0=hex(hmac_sha256(secret, "v0:{ts}:{raw body}"))`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": ts}


@dataclass
class FakeSlack:
    """Answers `POST /<method>` (base URL = `url + "/"`), recording every call by method name."""

    token: str
    app_token: str | None = None  # `xapp-…`: answers apps.connections.open with `socket_url`
    socket_url: str = ""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    download_token: str | None = None  # set to refuse our token on file downloads only
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def add_user(self, user_id: str, *, real_name: str, email: str) -> None:
        """A workspace member `users.info` knows."""
        self.users[user_id] = {
            "id": user_id,
            "name": real_name.lower(),
            "real_name": real_name,
            "profile": {"real_name": real_name, "email": email},
        }

    def add_file(
        self, file_id: str, *, name: str, data: bytes, mimetype: str, url: str | None = None
    ) -> dict[str, Any]:
        """A file as a `message` event's `files[]` carries it; served (with the bot token) here."""
        download = f"{self.url}/files-pri/T0TEAM001-{file_id}/download/{name}"
        entry = {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1],
            "size": len(data),
            "mode": "hosted",
            "is_external": False,
            "url_private": url or download.replace("/download/", "/"),
            "url_private_download": url or download,
        }
        self.files[file_id] = (entry, data)
        return entry

    def of(self, method: str) -> list[dict[str, Any]]:
        """Payloads of one method, in arrival order."""
        return [payload for name, payload in self.calls if name == method]

    def posts(self, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """chat.postMessage payloads: top-level ones, or the replies of one thread."""
        return [p for p in self.of("chat.postMessage") if p.get("thread_ts") == thread_ts]

    async def wait_for(self, method: str, count: int, within: float = 10.0) -> list[Any]:
        """Wait until `method` was called `count` times (or fail with what arrived)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.of(method)) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} {method} calls, got {self.of(method)}")
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._event.wait()
        return self.of(method)

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/{method}", self._handle)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._download)
        self._runner, self.url = await serve_locally(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _download(self, request: web.Request) -> web.Response:
        """Like files.slack.com: the bytes with the bot token, Slack's sign-in page without."""
        file_id = request.match_info["team_file"].split("-", 1)[-1]
        token = self.download_token or self.token
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        if file_id not in self.files:
            return web.Response(status=404)
        entry, data = self.files[file_id]
        self.downloads.append(file_id)
        return web.Response(body=data, content_type=entry["mimetype"])

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "apps.connections.open":
            return self._open_socket(request)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        payload = {**dict(request.query), **await _payload(request)}
        self.calls.append((method, payload))
        self._event.set()
        return web.json_response(self._answer(method, payload))

    def _answer(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": "T0TEAM001"}
        if method == "chat.postMessage":
            ts = f"1795000{next(self._ts):03d}.000100"
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts}
            message.update({k: payload[k] for k in ("text", "thread_ts") if k in payload})
            return {"ok": True, "channel": payload.get("channel"), "ts": ts, "message": message}
        if method == "chat.update":
            return {"ok": True, "channel": payload.get("channel"), "ts": payload.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1795999{next(self._ts):03d}.000100"}
        if method == "files.info":
            found = self.files.get(str(payload.get("file")))
            return (
                {"ok": True, "file": found[0]}
                if found
                else {"ok": False, "error": "file_not_found"}
            )
        if method == "users.info":
            user = self.users.get(str(payload.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        return {"ok": False, "error": "unknown_method"}

    def _open_socket(self, request: web.Request) -> web.Response:
        """apps.connections.open takes the app-level token only (a bot token is refused)."""
        if (
            not self.app_token
            or request.headers.get("Authorization") != f"Bearer {self.app_token}"
        ):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.calls.append(("apps.connections.open", {}))
        self._event.set()
        return web.json_response({"ok": True, "url": self.socket_url})


async def _payload(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    if request.content_type == "application/json":
        data: dict[str, Any] = json.loads(raw)
        return data
    return dict(parse_qsl(raw.decode()))
