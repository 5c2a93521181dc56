"""Response shapes of the REST API (the public contract in DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: str
    external_id: str
    display_name: str | None = None
    username: str | None = None
    opted_out_at: datetime | None = None


class CustomerOut(BaseModel):
    id: str
    name: str | None
    phones: list[str]
    emails: list[str]
    identities: list[IdentityOut]
    lifecycle_stage: str
    language: str | None
    tags: list[Any]
    created_at: datetime
    last_seen_at: datetime | None
    erased_at: datetime | None = None  # set: personal data erased, a PII-free record remains


class ContactPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    value: str
    verified: bool
    source: str | None


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    channel: str
    status: str
    language: str | None
    assigned_agent_id: str | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    resolved_at: datetime | None
    csat: int | None = None
    skill: str | None = None
    snoozed_until: datetime | None = None


class PurchaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    description: str
    amount: int
    currency: str
    purchased_at: datetime


class ServiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name_vi: str
    name_en: str
    duration_minutes: int
    price: int
    currency: str
    active: bool


class CustomerView(CustomerOut):
    """The 360° view: profile, contact details with their verification, conversations."""

    contact_points: list[ContactPointOut]
    conversations: list[ConversationOut]
    purchases: list[PurchaseOut]
    stats: dict[str, Any]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    customer_id: str
    channel: str
    direction: str
    author_type: str
    author_name: str | None
    text: str
    attachments: list[Any]
    status: str
    intent: str | None
    intent_confidence: float | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None


class TimelineEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    conversation_id: str | None
    kind: str
    actor_type: str
    actor_id: str | None
    data: dict[str, Any]
    created_at: datetime


class ParseIn(BaseModel):
    """`now`: the instant dates are resolved against (default: the clock); ISO-8601, a value
    without an offset is wall time in OMNICRM_TIMEZONE."""

    text: str = Field(min_length=1, max_length=5000)
    now: datetime | None = None

    @field_validator("now", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError("now must be an ISO-8601 date-time, e.g. 2026-11-20T10:00:00+07:00")


class WebchatSessionIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    language: str | None = Field(default=None, pattern="^(vi|en)$")


class WebchatSessionOut(BaseModel):
    session_id: str
    token: str
    customer_id: str


class WebchatContactIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)


class WebchatMessageIn(BaseModel):
    session_id: str = Field(max_length=64)
    text: str = Field(min_length=1, max_length=4000)
    client_message_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class WebchatFileOut(BaseModel):
    """A file an agent sent; `url` is a signed download link that expires."""

    name: str
    mime_type: str
    size: int | None = None
    kind: str
    url: str


class WebchatMessageOut(BaseModel):
    id: str
    direction: str
    author_type: str
    author_name: str | None
    text: str
    status: str
    created_at: datetime
    client_message_id: str | None = None
    attachments: list[WebchatFileOut] = []
