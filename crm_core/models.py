"""SQLAlchemy 2 typed models: the tables every other package reaches through crm_core only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_core.text import fold
from crm_core.types import UTCDateTime, new_id, utcnow


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


Base.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IdColumn = String(32)


def _id() -> Mapped[str]:
    return mapped_column(IdColumn, primary_key=True, default=new_id)


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow, nullable=False)


class Customer(Base):
    """One person across every channel: the 360° profile hangs off this row."""

    __tablename__ = "customers"

    id: Mapped[str] = _id()
    name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="lead", nullable=False)
    tags: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    # Set by a data-subject erasure: the row stays as a PII-free record (ids and counts only).
    erased_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_customers_created_at_id", "created_at", "id"),)


class ContactPoint(Base):
    """A phone (E.164) or e-mail (lower-cased) of a customer; a verified one is unique."""

    __tablename__ = "contact_points"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(String(320), nullable=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    source: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "value"),
        Index("ix_contact_points_kind_value", "kind", "value"),
        Index(
            "uq_contact_points_verified",
            "kind",
            "value",
            unique=True,
            sqlite_where=text("verified = 1"),
            postgresql_where=text("verified"),
        ),
    )


class Identity(Base):
    """A customer's handle on one channel, e.g. a Telegram user id (stored as a string)."""

    __tablename__ = "identities"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(200))
    opted_out_at: Mapped[datetime | None] = mapped_column()
    opt_out_source: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created()

    __table_args__ = (UniqueConstraint("channel", "external_id"),)


class Conversation(Base):
    """A thread with one customer on one identity; its status says who owns it."""

    __tablename__ = "conversations"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="bot", nullable=False)
    language: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(300))
    csat: Mapped[int | None] = mapped_column(Integer)  # 1-5, the customer's answer to the survey
    assigned_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    bot_state: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)
    skill: Mapped[str | None] = mapped_column(String(40))  # what the handoff needs, for routing
    snoozed_until: Mapped[datetime | None] = mapped_column()  # SLA and queue paused until then
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)
    last_message_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_conversations_created_at_id", "created_at", "id"),
        Index("ix_conversations_customer_id_status", "customer_id", "status"),
        Index("ix_conversations_identity_id_status", "identity_id", "status"),
        Index("ix_conversations_status_updated_at", "status", "updated_at"),
        # The console list pages newest first by (updated_at, id), optionally per channel/agent.
        Index("ix_conversations_updated_at_id", "updated_at", "id"),
        Index("ix_conversations_channel_updated_at", "channel", "updated_at"),
        Index("ix_conversations_assigned_agent_id_updated_at", "assigned_agent_id", "updated_at"),
    )


class Message(Base):
    """Every message in and out; outbound rows in status `queued` form the outbox."""

    __tablename__ = "messages"

    id: Mapped[str] = _id()
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)
    author_type: Mapped[str] = mapped_column(String(10), nullable=False)
    author_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="", nullable=False)
    # `text` folded (lower case, no Vietnamese marks) so "dat lich" finds "đặt lịch".
    search_text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(255))
    intent: Mapped[str | None] = mapped_column(String(64))
    intent_confidence: Mapped[float | None] = mapped_column()
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created()
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at", "id"),
        Index("ix_messages_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_messages_created_at_id", "created_at", "id"),
        Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )


@event.listens_for(Message, "before_insert")
@event.listens_for(Message, "before_update")
def _fold_for_search(_mapper: object, _connection: object, message: Message) -> None:
    """Keep `search_text` in step with `text` on every ORM write."""
    message.search_text = fold(message.text or "")


class TimelineEvent(Base):
    """Something that happened to a customer, with who did it: the 360° timeline."""

    __tablename__ = "timeline_events"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    actor_type: Mapped[str] = mapped_column(String(10), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        Index("ix_timeline_events_customer_id_created_at", "customer_id", "created_at", "id"),
        Index("ix_timeline_events_conversation_id", "conversation_id"),
    )


class InboxEvent(Base):
    """A received channel event, stored before the webhook answers; the dedupe key is here."""

    __tablename__ = "inbox_events"

    id: Mapped[str] = _id()
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    partition_key: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(10), default="pending", nullable=False)
    event: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = _created()
    processed_at: Mapped[datetime | None] = mapped_column()
    # Set once the event is on a shared bus (Redis); the outbox relay publishes the rest.
    published_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inbox_events_status_received_at", "status", "received_at"),
    )


class Agent(Base):
    """A console user (agent, supervisor or admin) with an argon2 password hash."""

    __tablename__ = "agents"

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Routing: who takes new conversations (round-robin among available agents), in which
    # languages and for which skills (empty list: any); the Slack user they answer as.
    available: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    languages: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    skills: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    # "Log out everywhere": console sessions issued before this instant no longer count.
    sessions_valid_after: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created()


class ApiKey(Base):
    """A bearer key for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class WebchatSession(Base):
    """A web chat visitor's session; the token that proves it is stored hashed."""

    __tablename__ = "webchat_sessions"

    id: Mapped[str] = _id()
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = _created()


class Service(Base):
    """A bookable service of the catalogue (consultations and treatments)."""

    __tablename__ = "services"

    id: Mapped[str] = _id()
    key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name_vi: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False)
    duration_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    price: Mapped[int] = mapped_column(Integer, nullable=False)  # in minor units of currency
    currency: Mapped[str] = mapped_column(String(3), default="VND", nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Minutes kept free after each appointment (cleaning, notes); seats when no staff is listed.
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    aliases: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    created_at: Mapped[datetime] = _created()


class StaffMember(Base):
    """Someone who gives services; `services` lists service keys, `hours` overrides opening hours.

    `hours` uses the BUSINESS_HOURS syntax ("mon-fri 09:00-17:00"); empty means the booking hours.
    """

    __tablename__ = "staff_members"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    services: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    hours: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = _created()


class StaffTimeOff(Base):
    """A block in a staff member's calendar: leave, a meeting, an outside booking."""

    __tablename__ = "staff_time_off"

    id: Mapped[str] = _id()
    staff_id: Mapped[str] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True
    )
    starts_at: Mapped[datetime] = mapped_column(nullable=False)
    ends_at: Mapped[datetime] = mapped_column(nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))


class Holiday(Base):
    """A day the business is closed (a local date in TIMEZONE)."""

    __tablename__ = "holidays"

    id: Mapped[str] = _id()
    day: Mapped[date] = mapped_column(Date, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)


class Appointment(Base):
    """A booked consultation; its `AppointmentSlot` rows make double booking impossible."""

    __tablename__ = "appointments"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), nullable=False
    )
    staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    starts_at: Mapped[datetime] = mapped_column(nullable=False)
    ends_at: Mapped[datetime] = mapped_column(nullable=False)
    # booked → completed | cancelled | no_show
    status: Mapped[str] = mapped_column(String(12), default="booked", nullable=False)
    channel: Mapped[str | None] = mapped_column(String(20))  # where it was booked
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_appointments_customer_id_starts_at", "customer_id", "starts_at"),
        Index("ix_appointments_status_starts_at", "status", "starts_at"),
    )


class AppointmentSlot(Base):
    """One reserved unit of a resource's time: unique per (resource, start), so two bookings
    of the same staff member (or service seat) can never overlap, even when they race."""

    __tablename__ = "appointment_slots"

    resource: Mapped[str] = mapped_column(String(80), primary_key=True)  # "staff:<id>"
    starts_at: Mapped[datetime] = mapped_column(primary_key=True)
    appointment_id: Mapped[str] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), nullable=False, index=True
    )


class Ticket(Base):
    """A complaint or problem: severity decides the SLA; every change is on the timeline."""

    __tablename__ = "tickets"

    id: Mapped[str] = _id()
    number: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)  # shown as T-000123
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    category: Mapped[str] = mapped_column(String(40), default="complaint", nullable=False)
    severity: Mapped[str] = mapped_column(String(10), default="normal", nullable=False)
    # new → in_progress → waiting_on_customer → resolved → closed
    status: Mapped[str] = mapped_column(String(24), default="new", nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    order_id: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str | None] = mapped_column(String(320))
    assigned_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    sla_due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_tickets_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_tickets_status_sla_due_at", "status", "sla_due_at"),
        Index("ix_tickets_conversation_id", "conversation_id"),
    )


class AutomationRun(Base):
    """Proof that one proactive send happened: unique `key` ("reminder_24h:<appointment>"),
    so `automation run-due` twice, or two workers, never send it twice."""

    __tablename__ = "automation_runs"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)  # queued, skipped, failed
    data: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)
    created_at: Mapped[datetime] = _created()


class FaqEntry(Base):
    """A knowledge-base answer; questions in both languages feed the retrieval."""

    __tablename__ = "faq_entries"

    id: Mapped[str] = _id()
    key: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    questions: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    answer_vi: Mapped[str] = mapped_column(Text, nullable=False)
    answer_en: Mapped[str] = mapped_column(Text, nullable=False)
    offer_human: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)


class Purchase(Base):
    """Something a customer bought; lifetime value and last purchase come from these rows."""

    __tablename__ = "purchases"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), default="VND", nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    items: Mapped[list[Any]] = mapped_column(default=list, nullable=False)
    purchased_at: Mapped[datetime] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        Index("ix_purchases_customer_id_purchased_at", "customer_id", "purchased_at"),
    )


class ChannelState(Base):
    """Durable state of a channel integration, e.g. Zalo's single-use refresh token."""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)


class MergeSuggestion(Base):
    """Two customers share an unverified detail: a human decides whether they are one person."""

    __tablename__ = "merge_suggestions"

    id: Mapped[str] = _id()
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    other_customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(String(320), nullable=False)
    status: Mapped[str] = mapped_column(String(12), default="open", nullable=False)
    created_at: Mapped[datetime] = _created()
    decided_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("customer_id", "other_customer_id", "kind", "value"),
        Index("ix_merge_suggestions_status_created_at", "status", "created_at"),
    )


class CustomerMerge(Base):
    """Audit of one merge, with what moved, so that an unmerge can put it all back."""

    __tablename__ = "customer_merges"

    id: Mapped[str] = _id()
    target_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    source_id: Mapped[str] = mapped_column(String(32), nullable=False)
    source_snapshot: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    moved: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    reason: Mapped[str] = mapped_column(String(100), nullable=False)
    actor_type: Mapped[str] = mapped_column(String(10), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    merged_at: Mapped[datetime] = _created()
    unmerged_at: Mapped[datetime | None] = mapped_column()


class StoredFile(Base):
    """A file we send to a customer (an agent's Slack upload, an invitation), kept until sent.

    Bytes live in the database so every web and worker process sees them without shared disk.
    """

    __tablename__ = "stored_files"

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    mime_type: Mapped[str] = mapped_column(String(120), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = _created()


class AuditLog(Base):
    """Who looked at or took out what: exports, transcript views, erasures (no PII in `data`)."""

    __tablename__ = "audit_log"

    id: Mapped[str] = _id()
    action: Mapped[str] = mapped_column(String(40), nullable=False)  # export, transcript_view...
    actor_type: Mapped[str] = mapped_column(String(10), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)


class QaReview(Base):
    """A supervisor's quality review of one conversation: rubric scores and notes."""

    __tablename__ = "qa_reviews"

    id: Mapped[str] = _id()
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    reviewer_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict, nullable=False)  # item -> 0..2
    score: Mapped[float | None] = mapped_column()  # share of the rubric's maximum, 0..1
    notes: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = _created()


class NluCorrection(Base):
    """A bot turn a reviewer flagged as misunderstood, with the intent it should have had."""

    __tablename__ = "nlu_corrections"

    id: Mapped[str] = _id()
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    predicted_intent: Mapped[str | None] = mapped_column(String(64))
    predicted_confidence: Mapped[float | None] = mapped_column()
    correct_intent: Mapped[str] = mapped_column(String(64), nullable=False)
    reviewer_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
