"""The only module that imports the twilio SDK: signature checks and Messages API sends."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException  # type: ignore[import-untyped]
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from channels.base import DeliveryError

TWILIO_API = "https://api.twilio.com"
# The SDK reads TWILIO_EDGE/TWILIO_REGION from os.environ when given no mapping; those would
# rename the host behind our back (research §3.7), so the client sees an explicit blank one.
_NO_ENV = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}
# https://www.twilio.com/docs/api/errors/21610 and /21211, /21614 (research §3.5).
UNSUBSCRIBED = 21610
BAD_RECIPIENT = {21211: "invalid 'To' number", 21614: "'To' is not a mobile number"}


@dataclass(frozen=True)
class SentSms:
    """What Twilio answered to a create: the SID status callbacks will quote."""

    sid: str
    status: str
    num_segments: int | None


def signature_matches(
    *, auth_token: str, url: str, pairs: Sequence[tuple[str, str]], signature: str
) -> bool:
    """Twilio's own validator (sorted params, with/without default port, constant time)."""
    # research §3.2: repeated names sign every value, so hand over a multi-dict.
    return bool(RequestValidator(auth_token).validate(url, _MultiParams(pairs), signature))


class _MultiParams(dict[str, str]):
    """A dict the validator reads through `getall`, so repeated form keys all count."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._all: dict[str, list[str]] = {}
        for key, value in pairs:
            self._all.setdefault(key, []).append(value)

    def getall(self, key: str) -> list[str]:
        return self._all[key]


class RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp transport, aimed at a configurable base (a fake in tests)."""

    session: aiohttp.ClientSession | None

    def __init__(self, *, api_base: str, timeout_s: float) -> None:
        # No session yet: aiohttp wants a running loop, and adapters are built before one.
        super().__init__(pool_connections=False, timeout=timeout_s)
        self.api_base = api_base.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> Response:
        """Send through our session; 429 and network trouble become retryable DeliveryErrors."""
        if self.session is None:
            self.session = aiohttp.ClientSession()
        if url.startswith(TWILIO_API):
            url = self.api_base + url[len(TWILIO_API) :]
        if auth is not None:  # as a header: aiohttp deprecates its BasicAuth helper
            headers = {**(headers or {}), "Authorization": _basic(*auth)}
            auth = None
        try:
            response: Response = await super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout if timeout is not None else self.timeout,
                allow_redirects=allow_redirects,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(
                f"twilio unreachable: {type(exc).__name__}", retryable=True
            ) from exc
        if response.status_code == 429:  # the SDK's exception drops headers: read Retry-After here
            retry_after = parse_retry_after((response.headers or {}).get("Retry-After"))
            raise DeliveryError("rate limited by twilio", retryable=True, retry_after=retry_after)
        return response

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class TwilioMessages:
    """Holds a twilio Client (never subclasses it) and turns its errors into DeliveryErrors."""

    def __init__(
        self, *, account_sid: str, auth_token: str, api_base: str, timeout_s: float = 10.0
    ) -> None:
        self._http = RebasedHttpClient(api_base=api_base, timeout_s=timeout_s)
        self._client = Client(account_sid, auth_token, http_client=self._http, environment=_NO_ENV)

    async def create(
        self,
        *,
        to: str,
        sender: str,
        body: str,
        status_callback: str,
        media_urls: Sequence[str] = (),
    ) -> SentSms:
        """POST one Messages resource; a Messaging Service SID (MG…) is used as the sender pool.

        `media_urls` make it an MMS (Twilio fetches them); Body may then be empty."""
        params: dict[str, Any] = {"to": to, "status_callback": status_callback}
        if body:
            params["body"] = body
        if media_urls:
            params["media_url"] = list(media_urls)
        if sender.startswith("MG"):
            params["messaging_service_sid"] = sender
        else:
            params["from_"] = sender
        try:
            message = await self._client.messages.create_async(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise delivery_error(status=exc.status, code=exc.code) from exc
        except TwilioException as exc:  # e.g. an unparseable answer: Twilio may have sent it
            raise DeliveryError(f"twilio answer unusable: {exc!r}"[:200], retryable=False) from exc
        segments = message.num_segments
        return SentSms(
            sid=str(message.sid),
            status=str(message.status),
            num_segments=int(segments) if segments not in (None, "") else None,
        )

    async def close(self) -> None:
        await self._http.close()


def delivery_error(*, status: int, code: int | None) -> DeliveryError:
    """Map an API error (HTTP status + Twilio code) to whether and how we retry."""
    code_text = str(code) if code is not None else None
    if status == 429 or status >= 500:
        return DeliveryError(f"twilio unavailable (HTTP {status})", retryable=True, code=code_text)
    if code == UNSUBSCRIBED:
        # Twilio blocks sends after the customer texted STOP (research §3.5): never retry.
        return DeliveryError(
            "opted out: recipient unsubscribed (STOP)",
            retryable=False,
            code=code_text,
            opted_out=True,
        )
    if code in BAD_RECIPIENT:
        return DeliveryError(BAD_RECIPIENT[code], retryable=False, code=code_text)
    return DeliveryError(
        f"rejected by twilio (HTTP {status}, code {code_text})", retryable=False, code=code_text
    )
