"""A local fake of Twilio's Messages API plus helpers that sign webhooks the way Twilio does."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from channels.sms_segments import count_segments
from tests.fakes.server import serve_locally

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
FROM_NUMBER = "+15005550006"
PUBLIC_URL = "https://crm.example.com"
SMS_URL = PUBLIC_URL + "/webhooks/twilio/sms"
STATUS_URL = PUBLIC_URL + "/webhooks/twilio/status"

Form = list[tuple[str, str]]


@dataclass(frozen=True)
class Scripted:
    """One canned failure the fake answers instead of accepting the next message."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One request the fake received: its form, whether auth was right, what it answered."""

    form: dict[str, str]
    authorized: bool
    status: int
    at: float
    sid: str | None = None  # the Message SID the fake returned (accepted calls only)
    media: tuple[str, ...] = ()  # every MediaUrl value (MMS), in order


@dataclass
class FakeTwilio:
    """Answers `POST /2010-04-01/Accounts/{sid}/Messages.json` like Twilio (basic auth, JSON)."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    calls: list[Call] = field(default_factory=list)
    scripted: list[Scripted] = field(default_factory=list)
    url: str = ""
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        self._runner, self.url = await serve_locally(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def sent_calls(self) -> list[Call]:
        """The accepted calls themselves (with their MediaUrl list)."""
        return [call for call in self.calls if call.status == 201]

    def sent(self) -> list[dict[str, str]]:
        """Forms of the messages the fake accepted (201), in arrival order."""
        return [call.form for call in self.calls if call.status == 201]

    def fail_next(
        self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
    ) -> None:
        self.scripted.append(Scripted(status, body, headers or {}))

    def rate_limit_next(self, retry_after: int) -> None:
        """HTTP 429 with Retry-After, as Twilio's API answers over its concurrency limit."""
        self.fail_next(
            429, error_body(20429, "Too Many Requests", 429), {"Retry-After": str(retry_after)}
        )

    def server_error_next(self, status: int = 503) -> None:
        self.fail_next(status, None)

    def reject_next(self, code: int, message: str) -> None:
        """A Twilio REST error such as 21610 (unsubscribed) or 21211 (invalid 'To')."""
        self.fail_next(400, error_body(code, message, 400))

    async def wait_for_calls(self, count: int, within: float = 10.0) -> list[Call]:
        """Wait until `count` requests arrived (failing with what did arrive)."""
        return await self._wait(lambda: len(self.calls) >= count, within, "calls")

    async def wait_for_sent(self, count: int, within: float = 10.0) -> list[dict[str, str]]:
        await self._wait(lambda: len(self.sent()) >= count, within, "accepted messages")
        return self.sent()

    async def _wait(self, done: Any, within: float, what: str) -> list[Call]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"expected more {what}; got {self.calls}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.2)):
                    await self._changed.wait()
        return list(self.calls)

    async def _create(self, request: web.Request) -> web.Response:
        posted = await request.post()
        form = {key: str(value) for key, value in posted.items()}
        media = tuple(str(url) for url in posted.getall("MediaUrl", []))
        authorized = request.headers.get("Authorization") == basic_auth(
            self.account_sid, self.auth_token
        )
        status, body, headers = self._answer(request.match_info["sid"], form, authorized, media)
        loop = asyncio.get_running_loop()
        sid = body.get("sid") if status == 201 and body else None
        self.calls.append(Call(form, authorized, status, loop.time(), sid, media))
        self._changed.set()
        if body is None:
            return web.Response(status=status, text="Service Unavailable", headers=headers)
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, sid: str, form: dict[str, str], authorized: bool, media: tuple[str, ...] = ()
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if not authorized or sid != self.account_sid:
            return 401, error_body(20003, "Authenticate", 401), {}
        if self.scripted:
            scripted = self.scripted.pop(0)
            return scripted.status, scripted.body, scripted.headers
        if "To" not in form or not (form.get("Body") or media):
            return 400, error_body(21602, "Message body is required.", 400), {}
        if len(media) > 10:  # Twilio takes at most 10 media per message (⚠ code unverified)
            return 400, error_body(21623, "Too many media URLs.", 400), {}
        return 201, self._message(form, media), {}

    def _message(self, form: dict[str, str], media: tuple[str, ...] = ()) -> dict[str, Any]:
        prefix = "MM" if "MediaUrl" in form else "SM"  # MMS SIDs start with MM (research §3.1)
        sid = f"{prefix}{next(self._sids):032x}"
        now = format_datetime(datetime.now(UTC))
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": str(len(media)),
            "num_segments": str(count_segments(form.get("Body", "")).segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": form["To"],
            "uri": f"{base}.json",
        }


def error_body(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's REST error document."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def twilio_signature(token: str, url: str, form: Sequence[tuple[str, str]]) -> str:
    """From Twilio's docs, not the SDK: URL + sorted name/value pairs, HMAC-SHA1, base64."""
    names = sorted({name for name, _ in form})
    payload = url + "".join(
        name + value for name in names for value in sorted({v for n, v in form if n == name})
    )
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed(
    form: Sequence[tuple[str, str]], *, url: str = SMS_URL, token: str = AUTH_TOKEN
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Twilio would POST for this form to `url`."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(token, url, form),
        "I-Twilio-Idempotency-Token": "fake-idempotency-token",
    }
    return urlencode(list(form)).encode(), headers


def inbound_form(
    sid: str,
    sender: str,
    body: str,
    *,
    to: str = FROM_NUMBER,
    media: Sequence[tuple[str, str]] = (),
    opt_out_type: str | None = None,
) -> Form:
    """An inbound-message webhook form with the fields Twilio sends (research §3.1)."""
    form: Form = [
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("SmsMessageSid", sid),
        ("NumMedia", str(len(media))),
        ("ToCity", ""),
        ("FromZip", ""),
        ("SmsSid", sid),
        ("FromState", ""),
        ("SmsStatus", "received"),
        ("FromCity", ""),
        ("Body", body),
        ("FromCountry", "VN" if sender.startswith("+84") else "US"),
        ("To", to),
        ("ToZip", ""),
        ("NumSegments", str(max(1, count_segments(body).segments))),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    for index, (url, content_type) in enumerate(media):
        form += [(f"MediaContentType{index}", content_type), (f"MediaUrl{index}", url)]
    if opt_out_type:
        form.append(("OptOutType", opt_out_type))
    return form


def status_form(sid: str, status: str, *, to: str, error_code: str | None = None) -> Form:
    """A status-callback form for one of our outbound messages (research §3.3)."""
    form: Form = [
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", to),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", FROM_NUMBER),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code:
        form.append(("ErrorCode", error_code))
    return form
