"""Zalo OpenAPI over httpx: the CS message call, its error codes, and the OAuth token keeper.

Endpoints, headers and error codes: /work/shared/research/channels.md §4.4–§4.6.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from channels.base import DeliveryError

log = logging.getLogger(__name__)

STATE_KEY = "oauth"
# Refresh a little before `expires_in` runs out rather than eat a -216 on a customer's reply.
REFRESH_MARGIN = timedelta(minutes=5)
# -216: access token invalid or expired → refresh and retry once (Chatwoot's
# send_on_zalo_service.rb, research §4.5).
TOKEN_EXPIRED = -216
# -230 "user has not interacted with the OA in the past 7 days", -213 "user not followed / no
# interaction" (research §4.6 ⚠: code tables disagree, these two mean "window closed").
WINDOW_CLOSED = frozenset({-230, -213})
WINDOW_CODE = "zalo_reply_window"  # DeliveryError.code for every "outside the window" refusal


class StateStore(Protocol):
    """Durable JSON values per key (crm_core.channel_state.ChannelStateStore in production)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def set(self, key: str, value: dict[str, Any]) -> None: ...


class _Answer(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True, extra="ignore")

    error: int = 0
    message: str = ""
    data: dict[str, Any] | None = None


class _Grant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: str
    refresh_token: str
    expires_in: int | None = None


@dataclass(frozen=True)
class Tokens:
    """What the store keeps; `seed` tells whether it still derives from the configured pair."""

    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None
    seed: str

    def fresh(self, now: datetime) -> bool:
        """Usable without refreshing: present and not about to expire (unknown expiry: yes)."""
        if self.access_token is None:
            return False
        return self.expires_at is None or now < self.expires_at - REFRESH_MARGIN

    def as_json(self) -> dict[str, Any]:
        expires = self.expires_at.isoformat() if self.expires_at else None
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": expires,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Tokens:
        expires = value.get("expires_at")
        return cls(
            access_token=value.get("access_token"),
            refresh_token=value.get("refresh_token"),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            seed=str(value.get("seed", "")),
        )


def _fingerprint(access_token: str | None, refresh_token: str | None) -> str:
    """A digest of the configured tokens, so a re-authorised pair replaces the stored one."""
    joined = f"{access_token or ''}\n{refresh_token or ''}".encode()
    return hashlib.sha256(joined).hexdigest()[:16]


class ZaloTokens:
    """Keeps the OA access token valid; refresh tokens are single-use, so each new one is
    committed to the store before the access token that came with it is used (research §4.5)."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        oauth_base: str,
        state: StateStore,
        access_token: str | None,
        refresh_token: str | None,
        clock: Callable[[], datetime],
        http: httpx.AsyncClient,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._url = oauth_base.rstrip("/") + "/v4/oa/access_token"
        self._state = state
        self._configured = Tokens(
            access_token, refresh_token, None, _fingerprint(access_token, refresh_token)
        )
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: Tokens | None = None  # always what the store holds
        self._unsaved: Tokens | None = None  # a refresh result the store has not taken yet
        self._http = http

    async def access_token(self) -> str:
        """A token to call the API with, refreshed first when it is missing or expiring."""
        tokens = self._current if self._current and not self._unsaved else await self._load()
        if tokens.fresh(self._clock()) and tokens.access_token:
            return tokens.access_token
        return await self.refresh(stale=tokens.access_token)

    async def refresh(self, *, stale: str | None) -> str:
        """Replace `stale`; concurrent callers (or another process) share one refresh."""
        async with self._lock:
            tokens = await self._load()  # after the lock: someone may have refreshed already
            if tokens.access_token != stale and tokens.fresh(self._clock()):
                return tokens.access_token or ""
            if not tokens.refresh_token:
                raise DeliveryError(
                    "Zalo access token expired and no refresh token is known: set "
                    "OMNICRM_ZALO_REFRESH_TOKEN (re-authorise the OA)",
                    retryable=True,
                )
            grant = await self._grant(tokens.refresh_token)
            now = self._clock()
            expires = now + timedelta(seconds=grant.expires_in) if grant.expires_in else None
            renewed = Tokens(grant.access_token, grant.refresh_token, expires, tokens.seed)
            await self._save(renewed)
            log.info("zalo access token refreshed, valid until %s", expires)
            return grant.access_token

    async def _load(self) -> Tokens:
        if (pending := self._unsaved) is not None:
            # Never use a token whose single-use refresh partner is not durable yet.
            await self._save(pending)
            return pending
        try:
            stored = await self._state.get(STATE_KEY)
        except Exception as exc:
            log.exception("could not read the Zalo tokens")
            raise DeliveryError("could not read the Zalo tokens", retryable=True) from exc
        if stored is None or stored.get("seed") != self._configured.seed:
            # First start, or the operator configured a new pair: that pair wins.
            await self._save(self._configured)
            return self._configured
        self._current = Tokens.from_json(stored)
        return self._current

    async def _save(self, tokens: Tokens) -> None:
        self._unsaved = tokens  # held until the store has it: losing it kills the integration
        try:
            await self._state.set(STATE_KEY, tokens.as_json())
        except Exception as exc:
            log.exception("could not persist the Zalo tokens; will retry before the next send")
            raise DeliveryError(
                "could not save the new Zalo tokens to the database", retryable=True
            ) from exc
        self._unsaved = None
        self._current = tokens

    async def _grant(self, refresh_token: str) -> _Grant:
        form = {
            "refresh_token": refresh_token,
            "app_id": self._app_id,
            "grant_type": "refresh_token",
        }
        try:
            response = await self._http.post(
                self._url, data=form, headers={"secret_key": self._app_secret}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DeliveryError(
                f"Zalo token refresh failed: {type(exc).__name__}", retryable=True
            ) from exc
        try:
            return _Grant.model_validate(body)
        except ValidationError as exc:
            detail = _oauth_detail(body)
            raise DeliveryError(
                f"Zalo refused the token refresh (HTTP {response.status_code}: {detail}); if "
                "the refresh token was revoked, re-authorise the OA and set "
                "OMNICRM_ZALO_REFRESH_TOKEN",
                retryable=True,
            ) from exc


def _oauth_detail(body: object) -> object:
    if not isinstance(body, dict):
        return None
    return body.get("error_description") or body.get("error_name") or body.get("error")


class ZaloApi:
    """The OA's send and upload calls; Zalo answers HTTP 200 with `error != 0` for most
    failures, and -216 (token expired) gets one refresh and one more try."""

    def __init__(self, *, api_base: str, tokens: ZaloTokens, http: httpx.AsyncClient) -> None:
        self._base = api_base.rstrip("/")
        self._url = self._base + "/v3.0/oa/message/cs"
        self.tokens = tokens
        self._http = http

    async def send_text(self, user_id: str, text: str) -> str:
        """POST one CS text message; returns Zalo's message_id or raises DeliveryError."""
        return await self.send_message(user_id, {"text": text})

    async def send_message(self, user_id: str, message: dict[str, Any]) -> str:
        """POST one CS message (text or attachment); Zalo's message_id or DeliveryError."""
        payload = {"recipient": {"user_id": user_id}, "message": message}
        answer = await self._with_token(lambda token: self._post(token, payload))
        message_id = (answer.data or {}).get("message_id")
        if not message_id:
            raise DeliveryError("Zalo accepted the message without a message_id", retryable=False)
        return str(message_id)

    async def upload(self, kind: str, *, name: str, mime_type: str, data: bytes) -> str:
        """POST /v2.0/oa/upload/{image|file} (multipart `file`, research §4.4): the
        attachment_id of an image or the token of a file, to send in a message next."""
        field = "attachment_id" if kind == "image" else "token"
        url = f"{self._base}/v2.0/oa/upload/{kind}"
        files = {"file": (name, data, mime_type)}
        answer = await self._with_token(lambda token: self._request(token, url, files=files))
        value = (answer.data or {}).get(field)
        if not value:
            raise DeliveryError(f"Zalo accepted the upload without a {field}", retryable=False)
        return str(value)

    async def _with_token(self, call: Callable[[str], Awaitable[_Answer]]) -> _Answer:
        token = await self.tokens.access_token()
        answer = await call(token)
        if answer.error == TOKEN_EXPIRED:
            token = await self.tokens.refresh(stale=token)
            answer = await call(token)
        if answer.error != 0:
            raise _answer_error(answer)
        return answer

    async def _post(self, token: str, payload: dict[str, Any]) -> _Answer:
        return await self._request(token, self._url, json=payload)

    async def _request(self, token: str, url: str, **body: Any) -> _Answer:
        try:
            response = await self._http.post(url, headers={"access_token": token}, **body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Zalo unreachable: {type(exc).__name__}", retryable=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            what = "rate limit" if response.status_code == 429 else "unavailable"
            raise DeliveryError(
                f"Zalo {what} (HTTP {response.status_code})",
                retryable=True,
                retry_after=retry_after(response.headers.get("retry-after")),
            )
        try:
            return _Answer.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise DeliveryError(
                f"unexpected Zalo answer (HTTP {response.status_code})",
                retryable=response.status_code < 400,
            ) from exc


def _answer_error(answer: _Answer) -> DeliveryError:
    code = str(answer.error)
    if answer.error in WINDOW_CLOSED:
        reason = (
            f"Zalo error {code} ({answer.message}): the customer's reply window is closed; "
            "Zalo only delivers replies to customers who wrote recently"
        )
        return _error(reason, code=WINDOW_CODE)
    if answer.error == TOKEN_EXPIRED:
        return _error(f"Zalo refused the access token even after a refresh ({code})", code=code)
    return _error(f"Zalo error {code}: {answer.message}", code=code)


def _error(reason: str, *, code: str) -> DeliveryError:
    return DeliveryError(reason, retryable=False, code=code)


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - datetime.now(when.tzinfo)).total_seconds(), 0.0)
