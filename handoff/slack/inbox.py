"""The sync loop: one Slack thread per handed-off conversation, customer messages mirrored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, func, or_, select

from crm_core.channel_state import ChannelStateStore
from crm_core.db import Database
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    Identity,
    Message,
    Purchase,
    TimelineEvent,
)
from crm_core.queries import transcript_of
from handoff.slack import format as fmt

log = logging.getLogger(__name__)
HANDED_OFF = ("waiting_agent", "agent")
AUTHORS = {"bot": "Bot", "system": "System", "agent": "Agent"}


class ThreadStore:
    """Where each conversation's Slack thread is, both ways, kept in the database."""

    def __init__(self, db: Database) -> None:
        self.state = ChannelStateStore(db, "slack")

    async def thread_of(self, conversation_id: str) -> dict[str, Any] | None:
        return await self.state.get(f"thread:{conversation_id}")

    async def conversation_of(self, thread_ts: str) -> str | None:
        """The conversation behind a thread's parent `ts`, or None for threads we never made."""
        ref = await self.state.get(f"ts:{thread_ts}")
        return str(ref["conversation_id"]) if ref else None

    async def save(self, conversation_id: str, ref: dict[str, Any]) -> None:
        await self.state.set(f"thread:{conversation_id}", ref)

    async def link(self, conversation_id: str, ref: dict[str, Any]) -> None:
        """Record a new thread: the reverse key first, so a reply can never be orphaned."""
        await self.state.set(f"ts:{ref['thread_ts']}", {"conversation_id": conversation_id})
        await self.save(conversation_id, ref)


async def load_card(db: Database, conversation_id: str) -> fmt.CustomerCard:
    """Gather the customer card: identities, contact points, purchases and the handoff reason."""
    async with db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise LookupError(conversation_id)
        customer = await session.get(Customer, conversation.customer_id)
        cid = conversation.customer_id
        channels = (
            await session.scalars(select(Identity.channel).where(Identity.customer_id == cid))
        ).all()
        points = (
            await session.scalars(select(ContactPoint).where(ContactPoint.customer_id == cid))
        ).all()
        total = await session.execute(
            select(Purchase.currency, func.sum(Purchase.amount))
            .where(Purchase.customer_id == cid)
            .group_by(Purchase.currency)
        )
        last = await session.scalar(
            select(Purchase)
            .where(Purchase.customer_id == cid)
            .order_by(Purchase.purchased_at.desc())
            .limit(1)
        )
        reason = await _handoff_reason(session, conversation_id)
    return fmt.CustomerCard(
        conversation_id=conversation_id,
        name=(customer.name if customer and customer.name else "Unknown customer"),
        channels=sorted(set(channels)),
        phones=[p.value for p in points if p.kind == "phone"],
        emails=[p.value for p in points if p.kind == "email"],
        lifetime_value=", ".join(f"{amount:,} {cur}" for cur, amount in total.all()) or "0",
        last_purchase=(
            f"{last.description} ({last.amount:,} {last.currency}, {last.purchased_at:%Y-%m-%d})"
            if last
            else None
        ),
        reason=reason,
    )


async def _handoff_reason(session: Any, conversation_id: str) -> str | None:
    events = await session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.conversation_id == conversation_id,
            TimelineEvent.kind == "status_changed",
        )
        .order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc())
    )
    for event in events:
        if event.data.get("to") == "waiting_agent":
            return str(event.data.get("reason") or "") or None
    return None


class SlackInbox:
    """Posts the thread and card once per conversation, then mirrors new customer messages."""

    def __init__(self, db: Database, client: AsyncWebClient, *, channel: str) -> None:
        self.db = db
        self.client = client
        self.channel = channel
        self.threads = ThreadStore(db)

    async def sync_once(self) -> None:
        """One pass over every conversation that humans own or wait for."""
        async with self.db.reading() as session:
            ids = (
                await session.scalars(
                    select(Conversation.id)
                    .where(Conversation.status.in_(HANDED_OFF))
                    .order_by(Conversation.updated_at)
                )
            ).all()
        for conversation_id in ids:
            try:
                await self.sync_conversation(conversation_id)
            except SlackApiError as error:
                log.warning(
                    "slack sync of conversation %s failed: %s",
                    conversation_id,
                    error.response.get("error"),
                )

    async def sync_conversation(self, conversation_id: str) -> None:
        ref = await self.threads.thread_of(conversation_id)
        if ref is None:
            await self.open_thread(conversation_id)
        else:
            await self.mirror(conversation_id, ref)

    async def open_thread(self, conversation_id: str) -> None:
        """Card first, thread ref saved right after it, then the transcript so far as one reply."""
        card = await load_card(self.db, conversation_id)
        async with self.db.reading() as session:
            messages, _ = await transcript_of(session, conversation_id)
            status = (await session.get(Conversation, conversation_id)).status  # type: ignore[union-attr]
        posted = await self.client.chat_postMessage(
            channel=self.channel,
            text=fmt.card_text(card),
            blocks=fmt.card_blocks(card, status=status),
            unfurl_links=False,
        )
        thread_ts = str(posted["ts"])
        ref = {"channel": str(posted["channel"]), "thread_ts": thread_ts, **_cursor(messages)}
        await self.threads.link(conversation_id, ref)
        log.info("slack thread %s opened for conversation %s", thread_ts, conversation_id)
        lines = [fmt.transcript_line(_author(m, card.name), m.text) for m in messages]
        await self._post(ref, fmt.transcript_text(lines))

    async def mirror(self, conversation_id: str, ref: dict[str, Any]) -> None:
        """Each new inbound message once: the cursor moves before the post (at most once)."""
        async with self.db.reading() as session:
            stmt = select(Message).where(
                Message.conversation_id == conversation_id, Message.direction == "in"
            )
            if ref.get("mirrored_until"):
                since = datetime.fromisoformat(ref["mirrored_until"])
                stmt = stmt.where(
                    or_(
                        Message.created_at > since,
                        and_(Message.created_at == since, Message.id > ref["mirrored_id"]),
                    )
                )
            fresh = (await session.scalars(stmt.order_by(Message.created_at, Message.id))).all()
        for message in fresh:
            ref = {**ref, **_cursor([message])}
            await self.threads.save(conversation_id, ref)
            body = fmt.escape(message.text) if message.text else "_(attachment)_"
            await self._post(ref, f":speech_balloon: {body}")

    async def _post(self, ref: dict[str, Any], text: str) -> None:
        await self.client.chat_postMessage(
            channel=ref["channel"], thread_ts=ref["thread_ts"], text=text, unfurl_links=False
        )


def _cursor(messages: list[Message]) -> dict[str, str]:
    if not messages:
        return {"mirrored_until": "", "mirrored_id": ""}
    last = messages[-1]
    return {"mirrored_until": last.created_at.isoformat(), "mirrored_id": last.id}


def _author(message: Message, customer: str) -> str:
    if message.author_type == "customer":
        return customer
    if message.author_type == "agent" and message.author_name:
        return message.author_name
    return AUTHORS.get(message.author_type, message.author_type)


async def run_inbox(
    runtime: Any,
    client: AsyncWebClient,
    *,
    interval_s: float = 1.0,
    wake: asyncio.Event | None = None,
) -> None:
    """Background task: sync every `interval_s`, or sooner when `wake` is set."""
    inbox = SlackInbox(runtime.db, client, channel=runtime.settings.slack_inbox_channel)
    woken = wake or asyncio.Event()
    while True:
        try:
            await inbox.sync_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("slack inbox sync failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await woken.wait()
        woken.clear()
