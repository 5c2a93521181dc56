"""Persist-then-acknowledge: inbound events go into the inbox table (deduped) before the 200."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from channels.base import InboundEvent
from conversations.bus import Bus, Publication
from crm_core.db import Database
from crm_core.enums import InboxStatus
from crm_core.models import InboxEvent
from crm_core.types import new_id, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredEvent:
    """An inbox row that was new; duplicates never produce one."""

    id: str
    partition_key: str


async def store(db: Database, events: Sequence[InboundEvent]) -> list[StoredEvent]:
    """Insert events in one transaction; a redelivery hits the unique key and is skipped."""
    stored: list[StoredEvent] = []
    if not events:
        return stored
    async with db.transaction() as session:
        for event in events:
            stmt = (
                db.insert(InboxEvent)
                .values(
                    id=new_id(),
                    channel=event.channel,
                    external_id=event.external_event_id,
                    partition_key=event.partition_key,
                    status="pending",
                    event=event.model_dump(mode="json"),
                    attempts=0,
                    received_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["channel", "external_id"])
                .returning(InboxEvent.id)
            )
            row_id = (await session.execute(stmt)).scalar_one_or_none()
            if row_id is not None:
                stored.append(StoredEvent(row_id, event.partition_key))
    return stored


async def receive(db: Database, bus: Bus, events: Sequence[InboundEvent]) -> list[StoredEvent]:
    """Store, commit, then publish: the bus only ever carries committed events.

    With a shared bus a failed publish is not the sender's problem: the event is committed,
    and the outbox relay publishes it later (so the webhook still answers 200).
    """
    stored = await store(db, events)
    if stored:
        await publish(db, bus, [Publication(item.id, item.partition_key) for item in stored])
    return stored


async def publish(db: Database, bus: Bus, items: Sequence[Publication]) -> bool:
    """Publish, then record `published_at` when the bus tracks it; False if the bus failed."""
    if not bus.tracks_publication:
        await bus.publish(items)
        return True
    try:
        await bus.publish(items)
    except Exception:
        log.warning("bus publish failed; the outbox relay will retry %d event(s)", len(items))
        return False
    ids = [item.event_id for item in items]
    # A worker may already hold an event's row (it locks it while processing): waiting for
    # that lock made the webhook's answer wait for the bot. A locked row is being processed,
    # so it is skipped here; should that processing fail, the relay publishes it again.
    unlocked = (
        select(InboxEvent.id).where(InboxEvent.id.in_(ids)).with_for_update(skip_locked=True)
    )
    async with db.transaction() as session:
        await session.execute(
            update(InboxEvent).where(InboxEvent.id.in_(unlocked)).values(published_at=utcnow())
        )
    return True


async def relay_once(
    db: Database,
    bus: Bus,
    *,
    unpublished_after: timedelta,
    republish_after: timedelta,
    limit: int = 500,
) -> int:
    """Publish pending inbox events a crash left off the bus; returns how many.

    Unpublished events older than `unpublished_after` (a webhook still publishing its own is
    younger), and published ones still pending after `republish_after` (the bus lost them,
    say Redis restarted without its last writes). A duplicate is harmless: processing skips
    an event already processed.
    """
    now = utcnow()
    stmt = (
        select(InboxEvent.id, InboxEvent.partition_key)
        .where(InboxEvent.status == InboxStatus.PENDING.value)
        .where(
            or_(
                (InboxEvent.published_at.is_(None))
                & (InboxEvent.received_at < now - unpublished_after),
                InboxEvent.published_at < now - republish_after,
            )
        )
        .order_by(InboxEvent.received_at, InboxEvent.id)
        .limit(limit)
    )
    async with db.reading() as session:
        rows = (await session.execute(stmt)).all()
    if not rows:
        return 0
    if not await publish(db, bus, [Publication(event_id, key) for event_id, key in rows]):
        return 0
    log.info("outbox relay published %d inbox event(s)", len(rows))
    return len(rows)
