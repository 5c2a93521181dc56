"""The neutral channel contract every adapter implements (after Rasa's channel interface)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field


class Attachment(BaseModel):
    """A file the customer sent; `ref` is the channel's handle (Telegram file_id, a URL...)."""

    kind: str  # image, document, audio, video, sticker, location
    ref: str
    name: str | None = None
    mime_type: str | None = None
    size: int | None = None


class SharedContact(BaseModel):
    """Contact details the customer shared; `verified` only when the channel vouches for them."""

    phone: str | None = None
    email: str | None = None
    name: str | None = None
    verified: bool = False


class InboundEvent(BaseModel):
    """One customer message, normalised; this JSON is what the inbox stores and the bus carries."""

    channel: str
    external_user_id: str
    external_event_id: str = Field(description="dedupe key of the delivery, e.g. update_id")
    external_message_id: str | None = Field(default=None, description="the channel's message id")
    text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    contact: SharedContact | None = None
    display_name: str | None = None
    username: str | None = None
    language_hint: str | None = None
    occurred_at: datetime
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def partition_key(self) -> str:
        """Events with the same key are processed in order (one customer handle)."""
        return f"{self.channel}:{self.external_user_id}"


@dataclass(frozen=True)
class ParsedWebhook:
    """What a webhook carried: zero or more customer messages, plus a note when ignored."""

    events: Sequence[InboundEvent] = ()
    ignored: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """A reply to deliver: where to, what, and our message id for idempotent bookkeeping."""

    message_id: str
    channel: str
    external_user_id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryReceipt:
    """The channel accepted the message; `external_id` is its id for status callbacks."""

    external_id: str | None
    status: str = "sent"


class DeliveryError(Exception):
    """A send failed; `retryable` tells the dispatcher whether to try again, and when."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class WebhookRejected(Exception):
    """The request is not authentic or not well-formed; nothing was stored."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


class ChannelAdapter(Protocol):
    """What the engine needs from a channel: verify+parse inbound, send outbound."""

    name: str
    max_sends_per_second: float | None  # the dispatcher paces sends to stay under it

    def verify(self, *, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise WebhookRejected(401/403) unless the request carries the channel's proof."""

    def parse(self, body: bytes) -> ParsedWebhook:
        """Pure: raw body in, normalised events out; WebhookRejected(400) on malformed input."""

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Deliver one message or raise DeliveryError."""

    async def close(self) -> None:
        """Release clients and sessions."""
