"""The FAQ knowledge base in the database: upsert by key, deactivate, and a cheap version.

Plain records in and rows out; turning rows into a searchable book is the conversations
package's job (`conversations.faq_store`), so crm_core keeps importing nothing above it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import FaqEntry
from crm_core.types import new_id, utcnow

# The key becomes the bot's intent "faq/<key>" (messages.intent is 64 characters).
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
Version = tuple[int, datetime | None]


@dataclass(frozen=True)
class FaqRecord:
    """One entry as imported or posted: phrasings (any language) and the two answers."""

    key: str
    questions: tuple[str, ...]
    answer_vi: str
    answer_en: str = ""
    offer_human: bool = False
    active: bool = True

    def check(self) -> None:
        """ValueError naming the key when the entry could not be answered or stored."""
        if not KEY_PATTERN.match(self.key):
            raise ValueError(f"FAQ key {self.key!r}: use 1-60 of a-z, 0-9, _ and -")
        if not any(q.strip() for q in self.questions):
            raise ValueError(f"FAQ entry {self.key!r} needs at least one question")
        if not (self.answer_vi.strip() or self.answer_en.strip()):
            raise ValueError(f"FAQ entry {self.key!r} needs an answer")


@dataclass(frozen=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deactivated} deactivated"
        )


async def version(session: AsyncSession) -> Version:
    """(row count, newest updated_at): changes on every insert, update and delete."""
    row = (await session.execute(select(func.count(), func.max(FaqEntry.updated_at)))).one()
    return int(row[0]), row[1]


async def active_entries(session: AsyncSession) -> list[FaqEntry]:
    stmt = select(FaqEntry).where(FaqEntry.active).order_by(FaqEntry.key)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, key: str) -> FaqEntry | None:
    stmt = select(FaqEntry).where(FaqEntry.key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


def apply(row: FaqEntry, record: FaqRecord) -> bool:
    """Copy a record onto a row; True when something changed (then updated_at moves)."""
    values = {
        "questions": [q.strip() for q in record.questions if q.strip()],
        "answer_vi": record.answer_vi.strip(),
        "answer_en": record.answer_en.strip(),
        "offer_human": record.offer_human,
        "active": record.active,
    }
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = utcnow()
    return changed


def new_row(record: FaqRecord) -> FaqEntry:
    now = utcnow()
    row = FaqEntry(
        id=new_id(), key=record.key, questions=[], answer_vi="", answer_en="", created_at=now
    )
    apply(row, record)
    row.updated_at = now
    return row


async def upsert(
    session: AsyncSession, records: Iterable[FaqRecord], *, replace: bool = False
) -> ImportCounts:
    """Insert or update by key; with `replace`, deactivate active entries not in `records`."""
    wanted = list(records)
    keys = [record.key for record in wanted]
    if len(set(keys)) != len(keys):
        raise ValueError("the same FAQ key appears twice")
    for record in wanted:
        record.check()
    existing = {row.key: row for row in (await session.execute(select(FaqEntry))).scalars()}
    created = updated = unchanged = deactivated = 0
    for record in wanted:
        row = existing.get(record.key)
        if row is None:
            session.add(new_row(record))
            created += 1
        elif apply(row, record):
            updated += 1
        else:
            unchanged += 1
    if replace:
        for key, row in existing.items():
            if key not in set(keys) and row.active:
                row.active = False
                row.updated_at = utcnow()
                deactivated += 1
    await session.flush()
    return ImportCounts(created, updated, unchanged, deactivated)


async def seed_if_empty(session: AsyncSession, records: Iterable[FaqRecord]) -> int:
    """Fill an empty knowledge base (first start, demo); returns how many were added."""
    count = await session.scalar(select(func.count()).select_from(FaqEntry))
    if count:
        return 0
    return (await upsert(session, records)).created
