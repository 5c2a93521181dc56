"""Delivery statuses reported by channels, applied to our outbound messages without going back."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from channels.base import StatusUpdate
from crm_core.db import Database
from crm_core.enums import Direction
from crm_core.models import Message

# Callbacks arrive out of order (Twilio says so): a status never replaces a later one.
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


def _advances(current: str, new: str) -> bool:
    if current == new:
        return False
    if new == "failed":
        return current in ("queued", "sent")  # a read or delivered message did arrive
    if current == "failed":
        return new in ("delivered", "read")  # proof of arrival beats an earlier failure report
    return _RANK.get(new, -1) > _RANK.get(current, -1)


async def apply_statuses(db: Database, updates: Sequence[StatusUpdate]) -> int:
    """Update matching outbound messages; unknown ids are ignored. Returns rows changed."""
    changed = 0
    if not updates:
        return changed
    async with db.transaction() as session:
        for update in updates:
            stmt = select(Message).where(
                Message.channel == update.channel,
                Message.external_id == update.external_message_id,
                Message.direction == Direction.OUT.value,
            )
            message = (await session.execute(stmt)).scalar_one_or_none()
            if message is None or not _advances(message.status, update.status):
                continue
            message.status = update.status
            if update.status == "failed":
                message.error = (update.error or "reported failed by the channel")[:500]
                meta = dict(message.meta)
                if update.error_code:
                    meta["error_code"] = update.error_code
                message.meta = meta
            changed += 1
    return changed
