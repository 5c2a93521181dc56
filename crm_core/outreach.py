"""Proactive messages (confirmations, reminders, receipts): each exactly once, on a channel that
can deliver now, never to an opted-out handle, and never during the business's quiet hours.

Exactly once: the AutomationRun key is claimed (INSERT ... ON CONFLICT DO NOTHING) in the same
transaction that queues the message, so a crash before the commit leaves nothing and a second
run, or a second worker, finds the key and does nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.conversations import add_outbound
from crm_core.enums import ConversationStatus, Direction, MessageStatus
from crm_core.models import AutomationRun, ContactPoint, Conversation, Customer, Identity, Message
from crm_core.types import new_id

CHAT_CHANNELS = ("telegram", "zalo", "webchat")
CONTACT_KIND = {"sms": "phone", "email": "email"}  # channels reached through a contact point
# Zalo bills (so our adapter refuses) anything outside 8 replies within 48 h of the user's last
# message; mirrors channels.zalo.REPLY_WINDOW / REPLIES_PER_WINDOW (crm_core imports no channel).
ZALO_REPLY_WINDOW = timedelta(hours=48)
ZALO_REPLIES_PER_WINDOW = 8
# The web chat has no push: a message only reaches a visitor whose page is still open, which we
# take to mean they wrote within this time.
WEBCHAT_ACTIVE = timedelta(minutes=30)
DEFAULT_LANGUAGE = "vi"


@dataclass(frozen=True)
class Outcome:
    """What `send_proactive` did: queued, already (key taken), deferred (quiet) or skipped."""

    status: str
    key: str
    channel: str | None = None
    message_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class QuietHours:
    """A daily local-time window ("21:00-08:00", may wrap midnight) without proactive sends."""

    start: time | None
    end: time | None
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, *, timezone: str) -> QuietHours:
        """ "HH:MM-HH:MM"; empty, "off" or an empty window (start == end) switch it off."""
        zone = ZoneInfo(timezone)
        text = (spec or "").strip().lower()
        if text in ("", "off", "none"):
            return cls(None, None, zone)
        try:
            first, second = (part.strip() for part in text.split("-"))
            start, end = time.fromisoformat(first), time.fromisoformat(second)
        except ValueError as exc:
            raise ValueError(f"quiet hours must look like 21:00-08:00, not {spec!r}") from exc
        return cls(start, end, zone) if start != end else cls(None, None, zone)

    def active(self, at: datetime) -> bool:
        if self.start is None or self.end is None:
            return False
        local = at.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


NO_QUIET_HOURS = QuietHours(None, None, ZoneInfo("UTC"))


@dataclass(frozen=True)
class _Target:
    """Where a message can go: an identity, its conversation (None: open one) or a new handle."""

    channel: str
    identity: Identity | None
    conversation: Conversation | None
    address: str | None = None  # for a new SMS/e-mail identity


async def send_proactive(
    session: AsyncSession,
    *,
    customer_id: str,
    text_by_language: Mapping[str, str],
    kind: str,
    key: str,
    now: datetime,
    channels: Collection[str],
    prefer_channel: str | None = None,
    fallback: Sequence[str] = ("sms", "email"),
    attachments: list[dict[str, Any]] | None = None,
    quiet_hours: QuietHours = NO_QUIET_HOURS,
    respect_quiet_hours: bool = True,
    data: Mapping[str, Any] | None = None,
) -> Outcome:
    """Queue one proactive message under `key`, inside the caller's transaction.

    `channels` are the channels this deployment can send on (the runtime's adapters). The
    preferred channel (else the one the customer last wrote on) goes first, then `fallback`.
    Quiet hours defer without claiming the key, so the first tick after them sends it; a
    customer nobody can reach gets the key claimed as "skipped" (told once, not retried).
    """
    if await session.get(AutomationRun, key) is not None:
        return Outcome("already", key)
    if respect_quiet_hours and quiet_hours.active(now):
        return Outcome("deferred", key, reason="quiet hours")
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return Outcome("skipped", key, reason="no such customer")
    first = prefer_channel or await _last_used_channel(session, customer_id)
    order = list(dict.fromkeys([c for c in (first, *fallback) if c]))
    target, reasons = None, []
    for channel in order:
        found = await _target(session, customer_id, channel, channels, now)
        if isinstance(found, str):
            reasons.append(f"{channel}: {found}")
        else:
            target = found
            break
    extra = dict(data or {})
    if target is None:
        reason = "; ".join(reasons) or "no channel to try"
        if not await _claim(session, key, kind, customer_id, "skipped", {**extra, "why": reason}):
            return Outcome("already", key)
        _record(session, customer_id, None, kind, key, "skipped", None, reason)
        return Outcome("skipped", key, reason=reason)
    if not await _claim(session, key, kind, customer_id, "queued", extra):
        return Outcome("already", key)
    conversation = await _conversation(session, customer, target, kind)
    text = _pick(text_by_language, customer.language or conversation.language)
    message = add_outbound(
        session,
        conversation,
        text=text,
        author_type="system",
        attachments=attachments,
        meta={"automation": kind, "automation_key": key},
    )
    await session.execute(
        update(AutomationRun)
        .where(AutomationRun.key == key)
        .values(data={**extra, "channel": target.channel, "message_id": message.id})
    )
    _record(session, customer_id, conversation.id, kind, key, "queued", target.channel, None)
    return Outcome("queued", key, channel=target.channel, message_id=message.id)


async def claim(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    customer_id: str | None,
    outcome: str,
    data: Mapping[str, Any] | None = None,
) -> bool:
    """Take `key` for a non-message outcome (e.g. a superseded reminder); False when taken."""
    return await _claim(session, key, kind, customer_id, outcome, dict(data or {}))


async def _claim(
    session: AsyncSession,
    key: str,
    kind: str,
    customer_id: str | None,
    outcome: str,
    data: dict[str, Any],
) -> bool:
    values = {
        "key": key,
        "kind": kind,
        "customer_id": customer_id,
        "outcome": outcome,
        "data": data,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AutomationRun).values(**values).on_conflict_do_nothing(index_elements=["key"])
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _record(
    session: AsyncSession,
    customer_id: str,
    conversation_id: str | None,
    kind: str,
    key: str,
    outcome: str,
    channel: str | None,
    reason: str | None,
) -> None:
    data: dict[str, Any] = {"automation": kind, "key": key, "channel": channel}
    if reason:
        data["reason"] = reason
    timeline.record(
        session,
        customer_id=customer_id,
        conversation_id=conversation_id,
        kind=f"proactive_{outcome}",
        actor_type="system",
        data=data,
    )


def _pick(texts: Mapping[str, str], language: str | None) -> str:
    for candidate in (language, DEFAULT_LANGUAGE):
        if candidate and candidate in texts:
            return texts[candidate]
    return next(iter(texts.values()))


async def _last_used_channel(session: AsyncSession, customer_id: str) -> str | None:
    """The channel of the customer's latest message to us: the one they actually read."""
    stmt = (
        select(Message.channel)
        .where(Message.customer_id == customer_id, Message.direction == Direction.IN.value)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _target(
    session: AsyncSession,
    customer_id: str,
    channel: str,
    channels: Collection[str],
    now: datetime,
) -> _Target | str:
    """A deliverable target on `channel`, or why there is none."""
    if channel not in channels:
        return "channel is off"
    if channel in CONTACT_KIND:
        return await _contact_target(session, customer_id, channel)
    if channel not in CHAT_CHANNELS:
        return "not a customer channel"
    return await _chat_target(session, customer_id, channel, now)


async def _chat_target(
    session: AsyncSession, customer_id: str, channel: str, now: datetime
) -> _Target | str:
    resolved = case((Conversation.status == ConversationStatus.RESOLVED.value, 1), else_=0)
    recent = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    stmt = (
        select(Conversation, Identity)
        .join(Identity, Identity.id == Conversation.identity_id)
        .where(Conversation.customer_id == customer_id, Conversation.channel == channel)
        .order_by(resolved, recent.desc(), Conversation.id)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return "no conversation on this channel"
    conversation, identity = row
    if identity.opted_out_at is not None:
        return "opted out"
    if channel == "zalo":
        last_in, sent = await _since_last_inbound(session, conversation.id)
        if last_in is None or now - last_in > ZALO_REPLY_WINDOW:
            return "Zalo reply window closed (48 h after the customer's last message)"
        if sent + 1 > ZALO_REPLIES_PER_WINDOW:
            return f"Zalo reply quota used ({sent} of {ZALO_REPLIES_PER_WINDOW})"
    elif channel == "webchat":
        last_in, _ = await _since_last_inbound(session, conversation.id)
        if last_in is None or now - last_in > WEBCHAT_ACTIVE:
            return "web chat visitor is not active"
    return _Target(channel, identity, conversation)


async def _since_last_inbound(
    session: AsyncSession, conversation_id: str
) -> tuple[datetime | None, int]:
    """The last inbound message time and how many replies went out since (the Zalo quota)."""
    last_in = await session.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation_id, Message.direction == Direction.IN.value
        )
    )
    if last_in is None:
        return None, 0
    sent = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.OUT.value,
            Message.status != MessageStatus.FAILED.value,
            Message.created_at > last_in,
        )
    )
    return last_in, int(sent or 0)


async def contact_address(session: AsyncSession, customer_id: str, channel: str) -> str | None:
    """The phone/e-mail an SMS/e-mail message to this customer would go to, if any."""
    found = await _contact_target(session, customer_id, channel)
    if isinstance(found, str):
        return None
    return found.identity.external_id if found.identity is not None else found.address


async def _contact_target(session: AsyncSession, customer_id: str, channel: str) -> _Target | str:
    """An SMS/e-mail handle: the customer's own identity, else one of their contact points.

    Verified points go first; a value that is another customer's identity is never used,
    and an opted-out handle (SMS STOP, a bounce) is never written to.
    """
    own = (
        await session.execute(
            select(Identity)
            .where(Identity.customer_id == customer_id, Identity.channel == channel)
            .order_by(Identity.created_at.desc())
        )
    ).scalars()
    points = (
        await session.execute(
            select(ContactPoint.value)
            .where(
                ContactPoint.customer_id == customer_id,
                ContactPoint.kind == CONTACT_KIND[channel],
            )
            .order_by(ContactPoint.verified.desc(), ContactPoint.created_at.desc())
        )
    ).scalars()
    opted_out = False
    for identity in own:
        if identity.opted_out_at is None:
            return _Target(channel, identity, None)
        opted_out = True
    for value in points:
        identity = await _identity(session, channel, value)
        if identity is None:
            return _Target(channel, None, None, address=value)
        if identity.customer_id != customer_id:
            continue
        opted_out = opted_out or identity.opted_out_at is not None
    if opted_out:
        return "opted out"
    return f"no {CONTACT_KIND[channel]} known"


async def _identity(session: AsyncSession, channel: str, external_id: str) -> Identity | None:
    stmt = select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _conversation(
    session: AsyncSession, customer: Customer, target: _Target, kind: str
) -> Conversation:
    """The target's conversation, else the identity's open one, else a new one we start."""
    if target.conversation is not None:
        return target.conversation
    identity = target.identity or await _new_identity(session, customer, target)
    stmt = (
        select(Conversation)
        .where(
            Conversation.identity_id == identity.id,
            Conversation.status != ConversationStatus.RESOLVED.value,
        )
        .order_by(Conversation.created_at.desc())
        .limit(1)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None:
        return found
    conversation = Conversation(
        id=new_id(),
        customer_id=customer.id,
        identity_id=identity.id,
        channel=identity.channel,
        status=ConversationStatus.BOT.value,
        language=customer.language,
        bot_state={},
    )
    session.add(conversation)
    timeline.record(
        session,
        customer_id=customer.id,
        conversation_id=conversation.id,
        kind="conversation_opened",
        actor_type="system",
        data={"channel": identity.channel, "proactive": kind},
    )
    return conversation


async def _new_identity(session: AsyncSession, customer: Customer, target: _Target) -> Identity:
    """The SMS/e-mail handle for a known phone/address (race-safe on the unique key)."""
    assert target.address is not None
    try:
        async with session.begin_nested():
            identity = Identity(
                customer_id=customer.id,
                channel=target.channel,
                external_id=target.address,
                display_name=customer.name,
            )
            session.add(identity)
            await session.flush()
    except IntegrityError:
        found = await _identity(session, target.channel, target.address)
        if found is None or found.customer_id != customer.id:
            raise  # someone else took the handle meanwhile: roll back, decide next tick
        return found
    timeline.record(
        session,
        customer_id=customer.id,
        kind="identity_linked",
        actor_type="system",
        data={"channel": target.channel, "external_id": target.address, "source": "outreach"},
    )
    return identity
