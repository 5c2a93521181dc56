"""What one outbound message becomes on Telegram: text parts, then files as multipart uploads.

Files are uploaded (BufferedInputFile), never passed as URLs: our PUBLIC_URL may not be
reachable from Telegram. Limits: https://core.telegram.org/bots/api#sendphoto (photo ≤ 10 MB,
caption ≤ 1024 characters) and #sending-files (bots upload other files up to 50 MB).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, Message

from channels.base import DeliveryError, OutboundFile, OutboundMessage

MAX_TEXT = 4096  # https://core.telegram.org/bots/api#sendmessage
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# sendPhoto re-encodes; other images (GIF, SVG, HEIC...) keep their bytes as documents.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})

Step = Callable[[], Awaitable[Message]]


def plan(bot: Bot, message: OutboundMessage) -> list[Step]:
    """The API calls in order. A text that fits a caption rides on the first file; a longer
    one goes first as its own message(s), then the files without caption."""
    chat_id = int(message.external_user_id)
    text = message.text
    caption = text if message.files and text.strip() and len(text) <= MAX_CAPTION else None
    steps: list[Step] = []
    if caption is None and (text.strip() or not message.files):
        steps += [_text_step(bot, chat_id, chunk) for chunk in split_text(text, MAX_TEXT)]
    for index, file in enumerate(message.files):
        steps.append(_file_step(bot, chat_id, file, caption if index == 0 else None))
    return steps


def _text_step(bot: Bot, chat_id: int, text: str) -> Step:
    return lambda: bot.send_message(chat_id=chat_id, text=text)


def _file_step(bot: Bot, chat_id: int, file: OutboundFile, caption: str | None) -> Step:
    if file.size > MAX_UPLOAD_BYTES:
        return _link_step(bot, chat_id, file, caption)

    async def send() -> Message:
        if file.mime_type.lower() in PHOTO_TYPES and file.size <= MAX_PHOTO_BYTES:
            try:
                photo = BufferedInputFile(file.data, filename=file.name)
                return await bot.send_photo(chat_id=chat_id, photo=photo, caption=caption)
            except TelegramBadRequest:
                pass  # e.g. PHOTO_INVALID_DIMENSIONS: the same bytes still go as a document
        document = BufferedInputFile(file.data, filename=file.name)
        return await bot.send_document(chat_id=chat_id, document=document, caption=caption)

    return send


def _link_step(bot: Bot, chat_id: int, file: OutboundFile, caption: str | None) -> Step:
    """Above the bots' upload limit the customer gets the signed link instead."""
    if file.url is None:
        raise DeliveryError(
            f"{file.name!r} is over Telegram's 50 MB upload limit and file links are off",
            retryable=False,
            code="file_too_large",
        )
    text = "\n\n".join(part for part in (caption, f"{file.name}: {file.url}") if part)
    return lambda: bot.send_message(chat_id=chat_id, text=text)


def split_text(text: str, limit: int) -> list[str]:
    """Split on line breaks where possible so no part exceeds `limit` characters."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest:
        parts.append(rest)
    return parts


async def call(step: Step) -> Message:
    """Run one API call; aiogram's errors become DeliveryErrors (retry or not)."""
    try:
        return await step()
    except TelegramRetryAfter as exc:
        raise DeliveryError(
            "rate limited", retryable=True, retry_after=float(exc.retry_after)
        ) from exc
    except (TelegramNetworkError, TelegramServerError) as exc:
        raise DeliveryError(f"telegram unavailable: {exc.message}", retryable=True) from exc
    except TelegramForbiddenError as exc:
        raise DeliveryError(f"blocked: {exc.message}", retryable=False) from exc
    except (TelegramBadRequest, TelegramNotFound, TelegramUnauthorizedError) as exc:
        raise DeliveryError(f"rejected: {exc.message}", retryable=False) from exc
