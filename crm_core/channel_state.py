"""Durable key/value state per channel (tokens, poll cursors), written in its own transaction."""

from __future__ import annotations

from typing import Any

from crm_core.db import Database
from crm_core.models import ChannelState
from crm_core.types import utcnow


class ChannelStateStore:
    """`get`/`set` JSON values for one channel; `set` commits before returning."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel

    async def get(self, key: str) -> dict[str, Any] | None:
        async with self.db.reading() as session:
            row = await session.get(ChannelState, (self.channel, key))
            return dict(row.value) if row is not None else None

    async def set(self, key: str, value: dict[str, Any]) -> None:
        """Upsert and commit: a single-use refresh token must survive a crash right after."""
        async with self.db.transaction() as session:
            row = await session.get(ChannelState, (self.channel, key))
            if row is None:
                session.add(ChannelState(channel=self.channel, key=key, value=value))
            else:
                row.value = value
                row.updated_at = utcnow()
