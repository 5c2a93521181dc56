"""The neutral channel contract every adapter implements (after Rasa's channel interface)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

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


EventKind = Literal["message", "opt_out", "opt_in", "follow", "unfollow"]


class InboundEvent(BaseModel):
    """One customer message, normalised; this JSON is what the inbox stores and the bus carries.

    `kind` says what the customer did: a message, or an opt-out/opt-in (SMS STOP/START, whose
    text is still stored as a message), or a follow/unfollow (Zalo; timeline only).
    """

    kind: EventKind = "message"
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
    thread_refs: list[str] = Field(
        default_factory=list, description="e-mail In-Reply-To + References: earlier message ids"
    )
    subject: str | None = None
    automated: str | None = Field(
        default=None, description="why this is machine-sent (auto-reply, bulk, bounce): no answer"
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, description="channel extras kept on the message (original text...)"
    )
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def partition_key(self) -> str:
        """Events with the same key are processed in order (one customer handle)."""
        return f"{self.channel}:{self.external_user_id}"


DeliveryStatus = Literal["queued", "sent", "delivered", "read", "failed"]


@dataclass(frozen=True)
class StatusUpdate:
    """A channel's report on one of our outbound messages (Twilio status, Zalo seen)."""

    channel: str
    external_message_id: str
    status: DeliveryStatus
    error: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class ParsedWebhook:
    """What a webhook carried: customer events and/or delivery statuses, or why it was ignored."""

    events: Sequence[InboundEvent] = ()
    statuses: Sequence[StatusUpdate] = ()
    ignored: str | None = None


@dataclass(frozen=True)
class ReplyContext:
    """What a channel may need to answer in the right thread and within its rules."""

    last_inbound_external_id: str | None = None  # Zalo msg_id, e-mail Message-ID, ...
    last_inbound_at: datetime | None = None
    sent_since_last_inbound: int = 0  # Zalo: 8 free replies within 48 h of the last message
    thread_refs: tuple[str, ...] = ()  # e-mail: the References chain so far
    subject: str | None = None
    customer_name: str | None = None


@dataclass(frozen=True)
class OutboundFile:
    """A file for the customer: the bytes to upload, and a signed link for channels that
    fetch by URL (Twilio MMS) or can only show a link; `url` is None when links are off."""

    name: str
    mime_type: str
    data: bytes = field(repr=False)
    url: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_image(self) -> bool:
        return self.mime_type.lower().startswith("image/")


@dataclass(frozen=True)
class OutboundMessage:
    """A reply to deliver: where to, what, and our message id for idempotent bookkeeping.

    `text` may be empty when `files` are present; one message is one logical send, whatever
    number of API calls a channel needs for the text and each file.
    """

    message_id: str
    channel: str
    external_user_id: str
    text: str
    context: ReplyContext = field(default_factory=ReplyContext)
    author_name: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"author_type": "bot"}
    files: tuple[OutboundFile, ...] = ()


@dataclass(frozen=True)
class DeliveryReceipt:
    """The channel accepted the message; `external_id` is its id for status callbacks."""

    external_id: str | None
    status: str = "sent"
    meta: Mapping[str, Any] = field(default_factory=dict)  # e.g. SMS segments, e-mail headers


class DeliveryError(Exception):
    """A send failed; `retryable` tells the dispatcher whether to try again, and when.

    `opted_out` means the provider says the recipient unsubscribed (Twilio 21610): the
    identity is marked and nothing more is sent there.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        code: str | None = None,
        opted_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.opted_out = opted_out


class WebhookRejected(Exception):
    """The request is not authentic or not well-formed; nothing was stored."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


@dataclass(frozen=True)
class WebhookAck:
    """The body a channel expects in answer to its webhook (Twilio wants TwiML)."""

    body: bytes
    media_type: str


class ChannelAdapter(Protocol):
    """What the engine needs from a channel: verify+parse inbound, send outbound.

    `verify` gets the raw body and the public URL the provider called (PUBLIC_URL + path +
    query), so signatures over either work behind a proxy. Adapters may also define
    `ack: WebhookAck` for a non-JSON webhook answer.
    """

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
