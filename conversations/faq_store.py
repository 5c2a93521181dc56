"""The bot's FAQ book, kept in step with the `faq_entries` table without a restart.

`FaqKnowledge` owns one FaqBook that the bot holds; `refresh` compares the table's cheap
version (row count, newest `updated_at`) with the one last loaded and, only when it moved,
reloads the active entries into the same book. The runtime refreshes after API writes and
every few seconds (for imports by the CLI or writes by another process).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.faq import DEFAULT_THRESHOLD, FaqBook, FaqEntry, read_entries
from crm_core import faq_store
from crm_core.db import Database
from crm_core.models import FaqEntry as FaqRow
from nlu.text import detect_language

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0


def entry_of(row: FaqRow) -> FaqEntry:
    """A stored row as a searchable entry; phrasings grouped by the language they look like."""
    questions: dict[str, list[str]] = {}
    for text in row.questions:
        questions.setdefault(detect_language(str(text)), []).append(str(text))
    answers = {lang: text for lang, text in (("vi", row.answer_vi), ("en", row.answer_en)) if text}
    return FaqEntry(id=row.key, questions=questions, answers=answers, offer_human=row.offer_human)


def records_of(entries: Iterable[FaqEntry]) -> list[faq_store.FaqRecord]:
    """YAML entries as records to store (questions of every language, in file order)."""
    return [
        faq_store.FaqRecord(
            key=entry.id,
            questions=tuple(q for phrasings in entry.questions.values() for q in phrasings),
            answer_vi=entry.answers.get("vi", ""),
            answer_en=entry.answers.get("en", ""),
            offer_human=entry.offer_human,
        )
        for entry in entries
    ]


def read_records(path: Path | None = None) -> list[faq_store.FaqRecord]:
    """A FAQ YAML file (the packaged one without a path) as records; ValueError if bad."""
    return records_of(read_entries(path))


async def load_book(session: AsyncSession, *, threshold: float = DEFAULT_THRESHOLD) -> FaqBook:
    """A fresh book of the active entries in the database."""
    rows = await faq_store.active_entries(session)
    return FaqBook((entry_of(row) for row in rows), threshold=threshold)


class FaqKnowledge:
    """One FaqBook for the bot, refreshed in place when the table's version moves."""

    def __init__(self, db: Database, book: FaqBook | None = None) -> None:
        self.db = db
        self.book = book if book is not None else FaqBook.load()  # until the first refresh
        self._version: faq_store.Version | None = None
        self._lock = asyncio.Lock()

    async def seed_if_empty(self, path: Path | None = None) -> int:
        """Import the packaged (or given) YAML into an empty table; 0 if it had entries."""
        async with self.db.transaction() as session:
            return await faq_store.seed_if_empty(session, read_records(path))

    async def refresh(self) -> bool:
        """Reload the book when the table changed since the last load; True when it did."""
        async with self._lock:
            async with self.db.reading() as session:
                current = await faq_store.version(session)
                if current == self._version:
                    return False
                rows = await faq_store.active_entries(session)
            self.book.replace_entries(entry_of(row) for row in rows)
            self._version = current
            log.info("FAQ book loaded: %d active entries", len(rows))
            return True

    async def run(self, every_s: float | None = None) -> None:
        """Refresh forever; a database hiccup keeps the current book and tries again."""
        while True:
            await asyncio.sleep(every_s if every_s is not None else REFRESH_SECONDS)
            try:
                await self.refresh()
            except SQLAlchemyError:
                log.warning("FAQ refresh failed; keeping the current book", exc_info=True)
