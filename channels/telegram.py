"""Telegram adapter: secret-header check, Update → InboundEvent, replies through aiogram's Bot."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message, Update
from pydantic import ValidationError

from channels.base import (
    Attachment,
    DeliveryError,
    DeliveryReceipt,
    InboundEvent,
    OutboundMessage,
    ParsedWebhook,
    SharedContact,
    WebhookRejected,
)
from channels.partial import PartialSends
from channels.telegram_outbound import call, plan

SECRET_HEADER = "x-telegram-bot-api-secret-token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class TelegramAdapter:
    """Holds an aiogram Bot (never subclasses it); the API base is configurable for tests."""

    name = "telegram"
    # "avoid sending more than one message per second" to one chat (Bot FAQ).
    min_seconds_between_sends_per_chat = 1.0

    def __init__(
        self,
        *,
        token: str,
        webhook_secret: str,
        api_base: str,
        max_sends_per_second: float = 25.0,
    ) -> None:
        # "not more than 30 messages per second or so" to different chats (Bot FAQ): keep margin.
        self.max_sends_per_second = max_sends_per_second
        self._secret = webhook_secret.encode()
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")))
        self.bot = Bot(token=token, session=session)
        self._partial = PartialSends()

    def verify(self, *, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """The static secret of setWebhook, compared in constant time."""
        given = headers.get(SECRET_HEADER)
        if not given:
            raise WebhookRejected(401, "missing_signature", "secret token header is missing")
        if not hmac.compare_digest(given.encode(), self._secret):
            raise WebhookRejected(403, "bad_signature", "secret token does not match")

    def parse(self, body: bytes) -> ParsedWebhook:
        return parse_update(body)

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Text (split at 4096 characters) and files; a retry after a failed later call
        resumes there, so parts already delivered are not sent twice (in this process)."""
        steps = plan(self.bot, message)
        ids = self._partial.take(message.message_id)
        try:
            for step in steps[len(ids) :]:
                sent = await call(step)
                ids.append(f"{sent.chat.id}:{sent.message_id}")
        except DeliveryError as exc:
            if exc.retryable:
                self._partial.keep(message.message_id, ids)
            raise
        meta = {"parts": ids} if len(ids) > 1 else {}
        return DeliveryReceipt(external_id=ids[-1] if ids else None, meta=meta)

    async def media_url(self, ref: str) -> str:
        """The download URL of a file_id (getFile); it embeds the token, so never log it."""
        file = await self.bot.get_file(ref)
        if not file.file_path:
            raise DeliveryError("telegram returned no file path", retryable=False)
        return self.bot.session.api.file_url(self.bot.token, file.file_path)

    async def set_webhook(self, url: str) -> bool:
        """Register our webhook URL with the secret header Telegram must echo."""
        return await self.bot.set_webhook(
            url=url,
            secret_token=self._secret.decode(),
            allowed_updates=ALLOWED_UPDATES,
        )

    async def close(self) -> None:
        await self.bot.session.close()


def parse_update(body: bytes) -> ParsedWebhook:
    """Pure parse of one Update; non-message updates are an empty, explained result."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "invalid_payload", "an Update must be a JSON object")
    try:
        update = Update.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WebhookRejected(400, "invalid_payload", f"{where}: {first['msg']}") from exc
    if update.message is None:
        return ParsedWebhook(ignored=f"update type {_update_kind(payload)} is not a new message")
    return _from_message(update.update_id, update.message, payload)


def _update_kind(payload: dict[str, object]) -> str:
    kinds = [key for key in payload if key != "update_id"]
    return kinds[0] if kinds else "empty"


def _from_message(update_id: int, message: Message, raw: dict[str, object]) -> ParsedWebhook:
    user = message.from_user
    if message.chat.type != "private":
        return ParsedWebhook(ignored="messages outside private chats are not handled")
    if user is None or user.is_bot:
        return ParsedWebhook(ignored="message from a bot")
    attachments = _attachments(message)
    contact = _contact(message)
    text = message.text or message.caption or ""
    if not text and not attachments and contact is None:
        return ParsedWebhook(ignored="service message without content")
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or None
    event = InboundEvent(
        channel="telegram",
        external_user_id=str(message.chat.id),
        external_event_id=str(update_id),
        external_message_id=f"{message.chat.id}:{message.message_id}",
        text=text,
        attachments=attachments,
        contact=contact,
        display_name=name,
        username=user.username,
        language_hint=user.language_code,
        occurred_at=message.date,
        raw=raw,
    )
    return ParsedWebhook(events=[event])


def _attachments(message: Message) -> list[Attachment]:
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]  # sizes come smallest → largest
        found.append(Attachment(kind="image", ref=largest.file_id, size=largest.file_size))
    if message.document:
        doc = message.document
        found.append(
            Attachment(
                kind="document",
                ref=doc.file_id,
                name=doc.file_name,
                mime_type=doc.mime_type,
                size=doc.file_size,
            )
        )
    for kind in ("voice", "audio", "video", "sticker"):
        media = getattr(message, kind)
        if media is not None:
            found.append(Attachment(kind=kind, ref=media.file_id))
    if message.location:
        loc = message.location
        found.append(Attachment(kind="location", ref=f"{loc.latitude},{loc.longitude}"))
    return found


def _contact(message: Message) -> SharedContact | None:
    contact = message.contact
    if contact is None:
        return None
    own = message.from_user is not None and contact.user_id == message.from_user.id
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    return SharedContact(phone=contact.phone_number, name=name, verified=own)
