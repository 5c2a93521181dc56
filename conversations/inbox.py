"""Persist-then-acknowledge: inbound events go into the inbox table (deduped) before the 200."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from channels.base import InboundEvent
from conversations.bus import Bus
from crm_core.db import Database
from crm_core.models import InboxEvent
from crm_core.types import new_id, utcnow


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
    """Store, commit, then publish: the bus only ever carries committed events."""
    stored = await store(db, events)
    for item in stored:
        bus.publish(item.id, key=item.partition_key)
    return stored
