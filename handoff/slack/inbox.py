"""The sync loop: one Slack thread per handed-off conversation, kept in step with the database.

The loop is the only writer of a thread's ref (its cursor and what the card last showed), so a
button click, the console, the API or the scheduler all change the card the same way: they
change the conversation, and the next pass (woken at once for clicks) mirrors and redraws.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import Database
from crm_core.models import ChannelState, Conversation, Message, TimelineEvent
from crm_core.queries import transcript_of
from crm_core.types import utcnow
from handoff.card import load_card
from handoff.slack import card as cards
from handoff.slack import format as fmt
from handoff.slack import mirror
from handoff.slack.routing import Routes
from handoff.slack.threads import ThreadStore

log = logging.getLogger(__name__)
HANDED_OFF = ("waiting_agent", "agent")
AUTHORS = {"bot": "Bot", "system": "System", "agent": "Agent"}
LOOKBACK = timedelta(days=1)  # after a restart: redraw threads of conversations closed meanwhile
OVERLAP = timedelta(seconds=5)  # passes overlap so a change committed mid-pass is not missed
Row = Message | TimelineEvent


@dataclass(frozen=True)
class InboxConfig:
    """What the loop needs from settings."""

    routes: Routes
    timezone: str
    mask_contacts: bool = False
    escalation_mention: str = "<!here>"


@dataclass
class Snapshot:
    """One conversation read in one session: its state and what is new since the cursor."""

    conversation: Conversation
    state: cards.CardState
    fresh: list[Row]
    lines: list[str | None]


class SlackInbox:
    """Posts the thread and card once per conversation, then mirrors and redraws."""

    def __init__(self, db: Database, client: AsyncWebClient, config: InboxConfig) -> None:
        self.db = db
        self.client = client
        self.config = config
        self.threads = ThreadStore(db)
        self.style = mirror.Style(config.timezone, config.escalation_mention)
        self._since: datetime | None = None

    async def sync_once(self) -> None:
        """One pass: conversations humans have, plus threaded ones that changed since the last."""
        started = utcnow()
        since = self._since or started - LOOKBACK
        for conversation_id in await self._due(since):
            try:
                await self.sync_conversation(conversation_id)
            except SlackApiError as error:
                log.warning(
                    "slack sync of conversation %s failed: %s",
                    conversation_id,
                    error.response.get("error"),
                )
        self._since = started - OVERLAP

    async def _due(self, since: datetime) -> list[str]:
        thread_key = literal("thread:") + Conversation.id
        changed = or_(Conversation.updated_at >= since, Conversation.last_message_at >= since)
        async with self.db.reading() as session:
            ids = await session.scalars(
                select(Conversation.id)
                .outerjoin(
                    ChannelState,
                    and_(ChannelState.channel == "slack", ChannelState.key == thread_key),
                )
                .where(
                    or_(
                        Conversation.status.in_(HANDED_OFF),
                        and_(ChannelState.key.is_not(None), changed),
                    )
                )
                .order_by(Conversation.updated_at)
            )
            return list(ids.all())

    async def sync_conversation(self, conversation_id: str) -> None:
        ref = await self.threads.thread_of(conversation_id)
        if ref is None:
            await self.open_thread(conversation_id)
            return
        drawn = (ref.get("drawn") or {}).get("status")
        snap = await self._read(conversation_id, ref)
        if snap is None:
            return
        if drawn not in HANDED_OFF and snap.state.status not in HANDED_OFF:
            return  # closed and already drawn closed: bot chatter stays out of the thread
        for row, line in zip(snap.fresh, snap.lines, strict=True):
            ref = {**ref, **_cursor(row)}
            await self.threads.save(conversation_id, ref)  # the cursor first: at most once
            if line:
                await self._post(ref, line)
        if ref.get("drawn") != snap.state.key():
            await self._redraw(conversation_id, ref, snap.state)
            await self.threads.save(conversation_id, {**ref, "drawn": snap.state.key()})

    async def open_thread(self, conversation_id: str) -> None:
        """Card first, thread ref saved right after it, then the transcript so far as one reply."""
        card = await load_card(self.db, conversation_id)
        async with self.db.reading() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.status not in HANDED_OFF:
                return
            messages, events = await transcript_of(session, conversation_id)
            state = await mirror.card_state(session, conversation)
            channel = self.config.routes.channel_for(
                channel=conversation.channel, skill=conversation.skill
            )
        posted = await self.client.chat_postMessage(
            channel=channel,
            text=cards.card_text(card),
            blocks=self._blocks(card, state),
            unfurl_links=False,
        )
        thread_ts = str(posted["ts"])
        last = max([*messages, *events], key=_order, default=None)
        ref = {
            "channel": str(posted["channel"]),
            "thread_ts": thread_ts,
            **_cursor(last),
            "drawn": state.key(),
        }
        await self.threads.link(conversation_id, ref)
        log.info("slack thread %s opened for conversation %s", thread_ts, conversation_id)
        lines = [fmt.transcript_line(_author(m, card.name), m.text) for m in messages]
        await self._post(ref, fmt.transcript_text(lines))

    async def _read(self, conversation_id: str, ref: dict[str, Any]) -> Snapshot | None:
        async with self.db.reading() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                return None
            state = await mirror.card_state(session, conversation)
            fresh = await _fresh(session, conversation_id, ref)
            lines = [await self._line(session, row) for row in fresh]
        return Snapshot(conversation, state, fresh, lines)

    async def _line(self, session: AsyncSession, row: Row) -> str | None:
        if isinstance(row, Message):
            return mirror.message_line(row)
        return await mirror.event_line(session, row, self.style)

    async def _redraw(
        self, conversation_id: str, ref: dict[str, Any], state: cards.CardState
    ) -> None:
        card = await load_card(self.db, conversation_id)
        line = cards.status_line(state, timezone=self.config.timezone)
        await self.client.chat_update(
            channel=ref["channel"],
            ts=ref["thread_ts"],
            text=f"{cards.card_text(card)} — {line}",
            blocks=self._blocks(card, state),
        )

    def _blocks(self, card: Any, state: cards.CardState) -> list[Any]:
        return cards.card_blocks(
            card, state, timezone=self.config.timezone, mask=self.config.mask_contacts
        )

    async def _post(self, ref: dict[str, Any], text: str) -> None:
        await self.client.chat_postMessage(
            channel=ref["channel"], thread_ts=ref["thread_ts"], text=text, unfurl_links=False
        )


async def _fresh(session: AsyncSession, conversation_id: str, ref: dict[str, Any]) -> list[Row]:
    """Messages and timeline events after the thread's cursor, in one order."""
    rows: list[Row] = []
    for model in (Message, TimelineEvent):
        stmt = select(model).where(model.conversation_id == conversation_id)
        if ref.get("mirrored_until"):
            since = datetime.fromisoformat(ref["mirrored_until"])
            stmt = stmt.where(
                or_(
                    model.created_at > since,
                    and_(model.created_at == since, model.id > ref["mirrored_id"]),
                )
            )
        rows.extend((await session.scalars(stmt)).all())
    return sorted(rows, key=_order)


def _order(row: Row) -> tuple[datetime, str]:
    return (row.created_at, row.id)


def _cursor(row: Row | None) -> dict[str, str]:
    if row is None:
        return {"mirrored_until": "", "mirrored_id": ""}
    return {"mirrored_until": row.created_at.isoformat(), "mirrored_id": row.id}


def _author(message: Message, customer: str) -> str:
    if message.author_type == "customer":
        return customer
    if message.author_type == "agent" and message.author_name:
        return message.author_name
    return AUTHORS.get(message.author_type, message.author_type)


async def run_inbox(
    runtime: Any,
    client: AsyncWebClient,
    config: InboxConfig,
    *,
    interval_s: float = 1.0,
    wake: asyncio.Event | None = None,
) -> None:
    """Background task: sync every `interval_s`, or sooner when `wake` is set."""
    inbox = SlackInbox(runtime.db, client, config)
    woken = wake or asyncio.Event()
    while True:
        woken.clear()
        try:
            await inbox.sync_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("slack inbox sync failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await woken.wait()
