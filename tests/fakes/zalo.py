"""A local fake of the Zalo OA OpenAPI and OAuth server (the calls we make), recording every
request; refresh tokens are single-use, as the real ones are (research §4.5)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import serve_locally

APP_ID = "2553928453557884079"
APP_SECRET = "fake-app-secret-key"
OA_SECRET_KEY = "fake-oa-secret-key"
OA_ID = "3662729599332560487"


@dataclass(frozen=True)
class Call:
    """One request the fake answered (or refused)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    outcome: str  # "sent", "refreshed", "scripted", "refused"
    at: float  # loop time


@dataclass(frozen=True)
class Scripted:
    """A canned answer for the next send call: an HTTP status, a JSON body, headers."""

    status: int
    body: dict[str, Any] | str  # a str is sent as text/html (a proxy's error page)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Uploaded:
    """A file the OA uploaded: what arrived in the multipart `file` part, and the handle
    (attachment_id or token) the fake gave back for it."""

    kind: str  # "image" or "file"
    filename: str | None
    content_type: str | None
    data: bytes
    handle: str


@dataclass
class FakeZalo:
    """Answers `POST /v3.0/oa/message/cs` and `POST /v4/oa/access_token` like Zalo."""

    access_token: str = "at-initial"
    refresh_token: str = "rt-initial"
    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    expires_in: str = "90000"  # Zalo sends it as a string of seconds (25 h)
    calls: list[Call] = field(default_factory=list)
    scripted: list[Scripted] = field(default_factory=list)
    used_refresh_tokens: set[str] = field(default_factory=set)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    uploads: list[Uploaded] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> FakeZalo:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send)
        app.router.add_post("/v2.0/oa/upload/{kind:image|file}", self._upload)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        self._runner, self.url = await serve_locally(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def script(self, status: int, body: dict[str, Any] | str, **headers: str) -> None:
        """The next send call gets this answer instead of being delivered."""
        self.scripted.append(
            Scripted(status, body, {k.replace("_", "-"): v for k, v in headers.items()})
        )

    def expire_access_token(self) -> None:
        """Zalo forgets the current access token: the next send gets error -216."""
        self.access_token = "at-revoked-" + secrets.token_hex(4)

    def sent(self) -> list[dict[str, Any]]:
        """Delivered message bodies, in arrival order."""
        return [call.body for call in self.calls if call.outcome == "sent"]

    def sent_calls(self) -> list[Call]:
        return [call for call in self.calls if call.outcome == "sent"]

    def send_attempts(self) -> list[Call]:
        return [call for call in self.calls if call.path.endswith("/message/cs")]

    def refreshes(self) -> list[Call]:
        return [call for call in self.calls if call.path.endswith("/access_token")]

    async def wait_for_sent(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` messages were delivered (or fail the test with what arrived)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.sent()) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"expected {count} Zalo sends, got {self.calls}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.2)):
                    await self._arrived.wait()
        return self.sent()

    def _record(self, request: web.Request, body: dict[str, Any], outcome: str) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        now = asyncio.get_running_loop().time()
        self.calls.append(Call(request.path, headers, body, outcome, now))
        self._arrived.set()

    async def _send(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except json.JSONDecodeError:
            self._record(request, {}, "refused")
            return web.json_response({"error": -201, "message": "Body is not valid JSON"})
        if request.headers.get("access_token") != self.access_token:
            self._record(request, body, "refused")
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if self.scripted:
            canned = self.scripted.pop(0)
            self._record(request, body, "scripted")
            if isinstance(canned.body, str):
                return web.Response(
                    text=canned.body,
                    status=canned.status,
                    headers=canned.headers,
                    content_type="text/html",
                )
            return web.json_response(canned.body, status=canned.status, headers=canned.headers)
        problem = _invalid_send(body, {upload.handle for upload in self.uploads})
        if problem:
            self._record(request, body, "refused")
            return web.json_response({"error": -201, "message": problem})
        self._record(request, body, "sent")
        message_id = hashlib.md5(str(next(self._ids)).encode()).hexdigest()  # Zalo-like hex id
        user_id = body["recipient"]["user_id"]
        data = {"message_id": message_id, "user_id": user_id}
        return web.json_response({"error": 0, "message": "Success", "data": data})

    async def _upload(self, request: web.Request) -> web.Response:
        """Multipart `file` in; `data.attachment_id` (images) or `data.token` (files) out."""
        kind = request.match_info["kind"]
        form = await request.post()
        part = form.get("file")
        record = {"kind": kind, "filename": getattr(part, "filename", None)}
        if request.headers.get("access_token") != self.access_token:
            self._record(request, record, "refused")
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if self.scripted:
            canned = self.scripted.pop(0)
            self._record(request, record, "scripted")
            return web.json_response(canned.body, status=canned.status, headers=canned.headers)
        if part is None or isinstance(part, str):
            self._record(request, record, "refused")
            return web.json_response({"error": -201, "message": "file is required"})
        handle = f"{kind}-{next(self._ids)}-{secrets.token_hex(4)}"
        self.uploads.append(
            Uploaded(kind, part.filename, part.content_type, part.file.read(), handle)
        )
        self._record(request, record, "uploaded")
        field_name = "attachment_id" if kind == "image" else "token"
        return web.json_response({"error": 0, "message": "Success", "data": {field_name: handle}})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        refused = self._refusal(request, form)
        if refused is not None:
            self._record(request, form, "refused")
            return web.json_response(refused)
        self.used_refresh_tokens.add(self.refresh_token)
        number = next(self._ids)
        self.access_token = f"at-{number}-{secrets.token_hex(4)}"
        self.refresh_token = f"rt-{number}-{secrets.token_hex(4)}"
        self._record(request, form, "refreshed")
        return web.json_response(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": self.expires_in,
            }
        )

    def _refusal(self, request: web.Request, form: dict[str, str]) -> dict[str, Any] | None:
        if request.headers.get("secret_key") != self.app_secret:
            return _oauth_error(-14004, "Invalid secret key")
        if form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
            return _oauth_error(-14002, "Invalid app_id or grant_type")
        if form.get("refresh_token") != self.refresh_token:
            # Single use: an old one (or a guess) is refused (research §4.5).
            return _oauth_error(-14014, "Invalid refresh token")
        return None


def _invalid_send(body: dict[str, Any], handles: set[str]) -> str | None:
    recipient = body.get("recipient")
    message = body.get("message")
    if not isinstance(recipient, dict) or not isinstance(recipient.get("user_id"), str):
        return "recipient.user_id must be a string"
    if isinstance(message, dict) and "attachment" in message:
        return _invalid_attachment(message["attachment"], handles)
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return "message.text must be a string"
    if not message["text"] or len(message["text"]) > 2000:
        return "message.text must be 1..2000 characters"
    return None


def _invalid_attachment(attachment: Any, handles: set[str]) -> str | None:
    """An uploaded image as a `media` template, or an uploaded file by its token (§4.4)."""
    if not isinstance(attachment, dict):
        return "message.attachment must be an object"
    payload = attachment.get("payload") or {}
    if attachment.get("type") == "file":
        return None if payload.get("token") in handles else "unknown file token"
    if attachment.get("type") == "template" and payload.get("template_type") == "media":
        elements = payload.get("elements") or []
        ok = bool(elements) and all(
            e.get("media_type") == "image" and e.get("attachment_id") in handles for e in elements
        )
        return None if ok else "unknown attachment_id"
    return "unsupported attachment"


def _oauth_error(code: int, name: str) -> dict[str, Any]:
    return {"error": code, "error_name": name, "error_description": name}


def sign(body: bytes, *, app_id: str = APP_ID, secret: str = OA_SECRET_KEY) -> str:
    """X-ZEvent-Signature for a raw body, as Zalo computes it (research §4.3)."""
    timestamp = str(json.loads(body)["timestamp"])
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode())
    return "mac=" + digest.hexdigest()


# Event payloads shaped like the research notes' examples (§4.2).

USER_ID = "6142494823100000101"


def _now_ms() -> str:
    return str(int(time.time() * 1000))


def text_event(
    msg_id: str, text: str, *, user_id: str = USER_ID, timestamp: str | None = None
) -> dict[str, Any]:
    return {
        "event_name": "user_send_text",
        "app_id": APP_ID,
        "sender": {"id": user_id},
        "recipient": {"id": OA_ID},
        "message": {"text": text, "msg_id": msg_id},
        "timestamp": timestamp or _now_ms(),
        "user_id_by_app": "979122185046046317",
    }


def media_event(
    kind: str,
    msg_id: str,
    payload: dict[str, Any],
    *,
    text: str | None = None,
    user_id: str = USER_ID,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "msg_id": msg_id,
        "attachments": [{"type": kind, "payload": payload}],
    }
    if text is not None:
        message["text"] = text
    return {
        "event_name": f"user_send_{kind}",
        "app_id": APP_ID,
        "sender": {"id": user_id},
        "recipient": {"id": OA_ID},
        "message": message,
        "timestamp": _now_ms(),
    }


def follow_event(event: str = "follow", *, user_id: str = USER_ID) -> dict[str, Any]:
    return {
        "oa_id": OA_ID,
        "follower": {"id": user_id},
        "user_id_by_app": "979122185046046317",
        "event_name": event,
        "source": "oa_profile",
        "app_id": APP_ID,
        "timestamp": _now_ms(),
    }


def submit_info_event(
    *, phone: str | int | None, name: str | None = "Lan Nguyen", user_id: str = USER_ID
) -> dict[str, Any]:
    info: dict[str, Any] = {"address": "1 Lê Lợi", "city": "Hồ Chí Minh"}
    if phone is not None:
        info["phone"] = phone
    if name is not None:
        info["name"] = name
    return {
        "event_name": "user_submit_info",
        "app_id": APP_ID,
        "sender": {"id": user_id},
        "recipient": {"id": OA_ID},
        "info": info,
        "timestamp": _now_ms(),
    }


def receipt_event(
    event: str, msg_ids: list[str] | str, *, user_id: str = USER_ID
) -> dict[str, Any]:
    """`user_seen_message` carries a list in message.msg_ids, `user_received_message` one id."""
    message = {"msg_ids": msg_ids} if isinstance(msg_ids, list) else {"msg_id": msg_ids}
    return {
        "event_name": event,
        "app_id": APP_ID,
        "sender": {"id": OA_ID},
        "recipient": {"id": user_id},
        "message": message,
        "timestamp": _now_ms(),
    }


def echo_event(msg_id: str, text: str, *, user_id: str = USER_ID) -> dict[str, Any]:
    return {
        "event_name": "oa_send_text",
        "app_id": APP_ID,
        "sender": {"id": OA_ID},
        "recipient": {"id": user_id},
        "message": {"text": text, "msg_id": msg_id},
        "timestamp": _now_ms(),
    }


def encode(payload: dict[str, Any]) -> bytes:
    """Raw bytes as Zalo sends them: UTF-8, Vietnamese not escaped."""
    return json.dumps(payload, ensure_ascii=False).encode()
