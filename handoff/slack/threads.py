"""Where each conversation's Slack thread is, both ways, in the channel state table."""

from __future__ import annotations

from typing import Any

from crm_core.channel_state import ChannelStateStore
from crm_core.db import Database


class ThreadStore:
    """Where each conversation's Slack thread is, both ways, kept in the database."""

    def __init__(self, db: Database) -> None:
        self.state = ChannelStateStore(db, "slack")

    async def thread_of(self, conversation_id: str) -> dict[str, Any] | None:
        return await self.state.get(f"thread:{conversation_id}")

    async def conversation_of(self, thread_ts: str, channel: str | None = None) -> str | None:
        """The conversation behind a thread's parent `ts`, or None for threads we never made."""
        ref = await self.state.get(f"ts:{thread_ts}")
        if ref is None:
            return None
        if channel is not None and ref.get("channel", channel) != channel:
            return None  # a `ts` is unique per channel only
        return str(ref["conversation_id"])

    async def save(self, conversation_id: str, ref: dict[str, Any]) -> None:
        await self.state.set(f"thread:{conversation_id}", ref)

    async def link(self, conversation_id: str, ref: dict[str, Any]) -> None:
        """Record a new thread: the reverse key first, so a reply can never be orphaned."""
        reverse = {"conversation_id": conversation_id, "channel": ref["channel"]}
        await self.state.set(f"ts:{ref['thread_ts']}", reverse)
        await self.save(conversation_id, ref)
