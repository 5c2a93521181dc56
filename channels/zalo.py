"""Zalo Official Account adapter: X-ZEvent-Signature check, OA events → InboundEvent, replies.

Protocol facts and their sources: /work/shared/research/channels.md §4 (Zalo OA Open API).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from channels.base import (
    Attachment,
    DeliveryError,
    DeliveryReceipt,
    DeliveryStatus,
    InboundEvent,
    OutboundMessage,
    ParsedWebhook,
    SharedContact,
    StatusUpdate,
    WebhookRejected,
)
from channels.file_links import text_with_links
from channels.partial import PartialSends
from channels.zalo_api import WINDOW_CODE, StateStore, ZaloApi, ZaloTokens
from channels.zalo_outbound import send_file, upload_kind

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SIGNATURE_HEADER = "x-zevent-signature"
# Text limit of the CS message API: "Maximum limit is 2,000 characters"
# (https://developers.esms.vn/en/esms-api/send-sms-api/send-zalo-message-consulting-in-text-form).
MAX_TEXT = 2000
# Free "reply" messages: 8 within 48 h of the user's last message; the 9th, or any after 48 h, is a
# paid proactive message (Zalo OA help centre, research §4.6:
# https://zalooa.freshdesk.com/support/solutions/articles/64000261136).
REPLY_WINDOW = timedelta(hours=48)
REPLIES_PER_WINDOW = 8

# Attachment `type` (or the event's suffix) → our Attachment.kind.
_KINDS = {
    "image": "image",
    "gif": "image",
    "file": "document",
    "sticker": "sticker",
    "audio": "audio",
    "voice": "audio",
    "video": "video",
    "link": "link",
    "location": "location",
}
_RECEIPTS: dict[str, DeliveryStatus] = {
    "user_received_message": "delivered",
    "user_seen_message": "read",
}


class _Model(BaseModel):
    # Ids exceed JavaScript's safe integers; a sender that emits numbers still gives exact
    # Python ints, kept as strings (research §4.1).
    model_config = ConfigDict(coerce_numbers_to_str=True, extra="ignore")


class _Party(_Model):
    id: str


class _Coordinates(_Model):
    latitude: float | str
    longitude: float | str


class _Payload(_Model):
    url: str | None = None
    thumbnail: str | None = None
    name: str | None = None
    size: int | str | None = None
    id: str | None = None
    coordinates: _Coordinates | None = None


class _ZaloAttachment(_Model):
    type: str | None = None
    payload: _Payload | None = None


class _UserMessage(_Model):
    msg_id: str
    text: str | None = None
    attachments: list[_ZaloAttachment] = []
    quote_msg_id: str | None = None


class _UserMessageEvent(_Model):
    event_name: str
    sender: _Party
    message: _UserMessage
    timestamp: str


class _FollowEvent(_Model):
    event_name: str
    follower: _Party
    timestamp: str
    source: str | None = None


class _Info(_Model):
    name: str | None = None
    phone: str | None = None


class _SubmitInfoEvent(_Model):
    sender: _Party
    info: _Info
    timestamp: str


class _Receipt(_Model):
    msg_id: str | None = None
    msg_ids: list[str] | str | None = None


class _ReceiptEvent(_Model):
    event_name: str
    message: _Receipt


class ZaloAdapter:
    """Zalo OA channel: holds one HTTP client for the OpenAPI and the OAuth token keeper."""

    name = CHANNEL

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        oa_secret_key: str,
        access_token: str | None,
        refresh_token: str | None,
        api_base: str,
        oauth_base: str,
        state: StateStore,
        max_sends_per_second: float = 10.0,
        region: str = "VN",
        clock: Callable[[], datetime] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.max_sends_per_second = max_sends_per_second
        self.region = region  # the engine normalises shared phones ("84912…") with it
        self._app_id = app_id
        self._oa_secret_key = oa_secret_key
        self._clock = clock or _utcnow
        # One client for the API and OAuth calls, closed in close() (STYLE: hold, inject).
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self.tokens = ZaloTokens(
            app_id=app_id,
            app_secret=app_secret,
            oauth_base=oauth_base,
            state=state,
            access_token=access_token,
            refresh_token=refresh_token,
            clock=self._clock,
            http=self._http,
        )
        self.api = ZaloApi(api_base=api_base, tokens=self.tokens, http=self._http)
        self._partial = PartialSends()  # our message id → Zalo ids of the steps sent

    def verify(self, *, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Check mac = SHA256(app_id + raw body + timestamp + OA secret key) (research §4.3)."""
        verify_signature(
            headers=headers, body=body, app_id=self._app_id, oa_secret_key=self._oa_secret_key
        )

    def parse(self, body: bytes) -> ParsedWebhook:
        return parse_event(body)

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send a reply inside Zalo's free reply window; refuse (no API call) outside it.

        Text parts go first, then each uploadable file as its own message; files Zalo cannot
        take arrive as signed links in the text. Each of those counts against the window.
        """
        user = message.external_user_id
        uploads = [(file, kind) for file in message.files if (kind := upload_kind(file))]
        linked = [file for file in message.files if upload_kind(file) is None]
        text = text_with_links(message.text, linked, channel=CHANNEL)
        steps: list[Callable[[], Awaitable[str]]] = [
            partial(self.api.send_text, user, part) for part in split_text(text.strip(), MAX_TEXT)
        ]
        steps += [partial(send_file, self.api, user, file, kind) for file, kind in uploads]
        if not steps:
            raise DeliveryError("empty message: Zalo refuses empty text", retryable=False)
        check_reply_window(message, parts=len(steps), now=self._clock())
        # A retry after a failed later step resumes there: what went out is not resent.
        ids = self._partial.take(message.message_id)
        try:
            for step in steps[len(ids) :]:
                ids.append(await step())
        except DeliveryError as exc:
            if exc.retryable:
                self._partial.keep(message.message_id, ids)
            raise
        log.info("zalo message %s sent as %s", message.message_id, ",".join(ids))
        return _receipt(ids)

    async def close(self) -> None:
        await self._http.aclose()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _receipt(ids: list[str]) -> DeliveryReceipt:
    # Status receipts name the last part; every part's id is kept on the message.
    meta = {"zalo_message_ids": ids} if len(ids) > 1 else {}
    return DeliveryReceipt(external_id=ids[-1], meta=meta)


def check_reply_window(message: OutboundMessage, *, parts: int, now: datetime) -> None:
    """Refuse what Zalo would bill as a proactive message: >48 h, or past 8 replies."""
    last_in = message.context.last_inbound_at
    sent = message.context.sent_since_last_inbound
    if last_in is None or now - last_in > REPLY_WINDOW:
        reason = (
            "Zalo only allows replies within 48 h of the customer's last message; this one "
            "would be a paid proactive message, so it was not sent"
        )
    elif sent + parts > REPLIES_PER_WINDOW:
        reason = (
            f"Zalo allows {REPLIES_PER_WINDOW} replies per customer message (48 h window); "
            f"{sent} already sent, so this one would be a paid proactive message and was not sent"
        )
    else:
        return
    raise DeliveryError(reason, retryable=False, code=WINDOW_CODE)


def split_text(text: str, limit: int) -> list[str]:
    """Split on line breaks (else spaces, else hard) so no part exceeds `limit` characters."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def verify_signature(
    *, headers: Mapping[str, str], body: bytes, app_id: str, oa_secret_key: str
) -> None:
    """Raise WebhookRejected unless X-ZEvent-Signature matches; never crash on garbage."""
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise WebhookRejected(401, "missing_signature", "X-ZEvent-Signature header is missing")
    timestamp = _raw_timestamp(_load(body))
    # Over the raw bytes, never re-serialised JSON: Vietnamese text would not survive (§0.1).
    digest = hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()
    # "mac=<hex>" per the docs; some senders omit the prefix (research §4.3 ⚠).
    mac = given[4:] if given[:4].lower() == "mac=" else given
    if not hmac.compare_digest(mac.strip().lower().encode(), digest.encode()):
        raise WebhookRejected(403, "bad_signature", "X-ZEvent-Signature does not match")


def _load(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "invalid_payload", "a Zalo event must be a JSON object")
    return payload


def _raw_timestamp(payload: dict[str, Any]) -> str:
    value = payload.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _digits(value):
        raise WebhookRejected(400, "invalid_payload", "timestamp: a string of milliseconds")
    return value


def parse_event(body: bytes) -> ParsedWebhook:
    """Pure parse of one OA event; echoes and unknown events are an explained empty result."""
    payload = _load(body)
    name = payload.get("event_name")
    if not isinstance(name, str) or not name:
        raise WebhookRejected(400, "invalid_payload", "event_name: a non-empty string")
    try:
        return _dispatch(name, payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WebhookRejected(400, "invalid_payload", f"{where}: {first['msg']}") from exc


def _dispatch(name: str, payload: dict[str, Any]) -> ParsedWebhook:
    if name.startswith("oa_send_"):
        # The OA's own messages come back as events: storing them would loop (research §0.3).
        return ParsedWebhook(ignored=f"{name} is an echo of the OA's own message")
    if name.startswith("user_send_"):
        return _message(_UserMessageEvent.model_validate(payload), payload)
    if name in ("follow", "unfollow"):
        return _follow(_FollowEvent.model_validate(payload), payload)
    if name == "user_submit_info":
        return _submit_info(_SubmitInfoEvent.model_validate(payload), payload)
    if name in _RECEIPTS:
        return _receipts(_ReceiptEvent.model_validate(payload))
    if name.startswith("anonymous_"):
        return ParsedWebhook(ignored=f"{name}: anonymous chats need Zalo's anonymous API")
    return ParsedWebhook(ignored=f"event {name} is not handled")


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _occurred(timestamp: str) -> datetime:
    try:
        if not _digits(timestamp):
            raise ValueError(timestamp)
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:  # out of range years too
        raise WebhookRejected(
            400, "invalid_payload", "timestamp: a string of milliseconds"
        ) from exc


def _message(event: _UserMessageEvent, raw: dict[str, Any]) -> ParsedWebhook:
    default_kind = event.event_name.removeprefix("user_send_")
    attachments = [
        found
        for item in event.message.attachments
        if (found := _attachment(item, default_kind)) is not None
    ]
    text = event.message.text or ""
    if not text and not attachments:
        return ParsedWebhook(ignored=f"{event.event_name} without text or attachment")
    meta: dict[str, Any] = {"zalo_event": event.event_name}
    if event.message.quote_msg_id:
        meta["quote_msg_id"] = event.message.quote_msg_id
    inbound = InboundEvent(
        channel=CHANNEL,
        external_user_id=event.sender.id,
        external_event_id=event.message.msg_id,  # msg_id is the dedupe key of a redelivery
        external_message_id=event.message.msg_id,
        text=text,
        attachments=attachments,
        occurred_at=_occurred(event.timestamp),
        meta=meta,
        raw=raw,
    )
    return ParsedWebhook(events=[inbound])


def _attachment(item: _ZaloAttachment, default_kind: str) -> Attachment | None:
    payload = item.payload or _Payload()
    kind = _KINDS.get(item.type or default_kind, _KINDS.get(default_kind, "document"))
    ref = payload.url or payload.thumbnail or payload.id
    if payload.coordinates is not None:
        kind = "location"
        ref = f"{payload.coordinates.latitude},{payload.coordinates.longitude}"
    if not ref:
        return None
    return Attachment(
        kind=kind,
        ref=ref,
        name=payload.name,
        mime_type="image/gif" if (item.type or default_kind) == "gif" else None,
        size=_size(payload.size),
    )


def _size(value: int | str | None) -> int | None:
    if isinstance(value, int):
        return value
    return int(value) if value and _digits(value) else None


def _follow(event: _FollowEvent, raw: dict[str, Any]) -> ParsedWebhook:
    inbound = InboundEvent(
        kind="follow" if event.event_name == "follow" else "unfollow",
        channel=CHANNEL,
        external_user_id=event.follower.id,
        external_event_id=f"{event.event_name}:{event.follower.id}:{event.timestamp}",
        occurred_at=_occurred(event.timestamp),
        meta={"zalo_event": event.event_name, "source": event.source},
        raw=raw,
    )
    return ParsedWebhook(events=[inbound])


def _submit_info(event: _SubmitInfoEvent, raw: dict[str, Any]) -> ParsedWebhook:
    # The customer filled Zalo's own request_user_info form: Zalo vouches for the number.
    info = event.info
    phone = (info.phone or "").strip() or None
    name = (info.name or "").strip() or None
    inbound = InboundEvent(
        channel=CHANNEL,
        external_user_id=event.sender.id,
        external_event_id=f"user_submit_info:{event.sender.id}:{event.timestamp}",
        contact=SharedContact(phone=phone, name=name, verified=phone is not None),
        occurred_at=_occurred(event.timestamp),
        meta={"zalo_event": "user_submit_info"},
        raw=raw,
    )
    return ParsedWebhook(events=[inbound])


def _receipts(event: _ReceiptEvent) -> ParsedWebhook:
    # Seen receipts list several ids in message.msg_ids; received ones carry message.msg_id.
    ids = event.message.msg_ids or []
    listed = [ids] if isinstance(ids, str) else list(ids)
    if event.message.msg_id:
        listed.append(event.message.msg_id)
    status = _RECEIPTS[event.event_name]
    statuses = [
        StatusUpdate(channel=CHANNEL, external_message_id=msg_id, status=status)
        for msg_id in dict.fromkeys(listed)
        if msg_id
    ]
    if not statuses:
        return ParsedWebhook(ignored=f"{event.event_name} without message ids")
    return ParsedWebhook(statuses=statuses)
