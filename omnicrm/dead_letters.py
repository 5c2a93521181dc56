"""Dead letters of the Redis bus for the CLI (`omnicrm dlq`) and the console page.

Both replay through `replay_dead_letters`, so a replay from the console does exactly what
`omnicrm dlq replay` does: the inbox rows go back to pending, then the entries are published.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError
from sqlalchemy import select, update

from conversations.redis_bus import DeadLetter, RedisBus
from crm_core.db import Database
from crm_core.enums import InboxStatus
from crm_core.models import InboxEvent
from handoff.console.dead_letter_source import DeadLetterRow, DeadLettersUnavailable


class UnknownDeadLetters(LookupError):
    """Some of the ids asked for are not (or no longer) on the dead-letter stream."""


async def replay_dead_letters(
    bus: RedisBus, db: Database, ids: Sequence[str] | None
) -> list[DeadLetter]:
    """Publish dead letters again (all when `ids` is None); their inbox rows become pending.

    A dead-lettered event was parked as failed, and processing skips failed rows, so the
    replay sets it back to pending first (attempts are kept, for the record).
    """
    letters = await bus.dead_letters(limit=100_000)
    if ids is not None:
        unknown = set(ids) - {letter.id for letter in letters}
        if unknown:
            raise UnknownDeadLetters(f"no such dead letter: {', '.join(sorted(unknown))}")
        letters = [letter for letter in letters if letter.id in set(ids)]
    event_ids = [e for e in (letter.event_id() for letter in letters) if e is not None]
    if event_ids:
        async with db.transaction() as session:
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(event_ids))
                .where(InboxEvent.status == InboxStatus.FAILED.value)
                .values(status=InboxStatus.PENDING.value)
            )
    return await bus.replay([letter.id for letter in letters])


class BusDeadLetters:
    """The console's `DeadLetterSource` over the process's Redis bus and database."""

    def __init__(self, bus: RedisBus, db: Database) -> None:
        self.bus = bus
        self.db = db

    async def count(self) -> int:
        try:
            return int(await self.bus.client.xlen(self.bus.keys.dead))
        except (RedisError, OSError) as exc:
            raise DeadLettersUnavailable(str(exc)) from exc

    async def rows(self, limit: int) -> list[DeadLetterRow]:
        """The oldest `limit` dead letters, with the channel of their inbox event."""
        try:
            letters = await self.bus.dead_letters(limit=limit)
        except (RedisError, OSError) as exc:
            raise DeadLettersUnavailable(str(exc)) from exc
        event_ids = {e for e in (letter.event_id() for letter in letters) if e is not None}
        channels: dict[str, str] = {}
        if event_ids:
            async with self.db.reading() as session:
                found = await session.execute(
                    select(InboxEvent.id, InboxEvent.channel).where(InboxEvent.id.in_(event_ids))
                )
                channels = {event_id: channel for event_id, channel in found.all()}
        rows = []
        for letter in letters:
            event_id = letter.event_id()
            rows.append(
                DeadLetterRow(
                    id=letter.id,
                    dead_at=letter.dead_at,
                    event_id=event_id,
                    channel=channels.get(event_id) if event_id else None,
                    deliveries=letter.deliveries,
                    reason=letter.reason,
                )
            )
        return rows

    async def replay(self, ids: Sequence[str] | None) -> int:
        try:
            return len(await replay_dead_letters(self.bus, self.db, ids))
        except (RedisError, OSError) as exc:
            raise DeadLettersUnavailable(str(exc)) from exc


def bus_dead_letters(runtime: object) -> BusDeadLetters | None:
    """The source for a running app, or None when its bus is in-process (no dead letters)."""
    bus = getattr(runtime, "bus", None)
    db = getattr(runtime, "db", None)
    if isinstance(bus, RedisBus) and isinstance(db, Database):
        return BusDeadLetters(bus, db)
    return None
