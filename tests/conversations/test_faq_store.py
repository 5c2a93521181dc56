"""The knowledge base in the database: seeding, upsert by key, and the bot's book following it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conversations.faq import FaqBook
from conversations.faq_store import FaqKnowledge, load_book, read_records
from crm_core import faq_store
from crm_core.db import Database
from crm_core.faq_store import FaqRecord


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


PETS = FaqRecord(
    key="pets",
    questions=("có cho mang thú cưng không", "are pets allowed"),
    answer_vi="Không ạ.",
    answer_en="Sorry, no.",
)


async def test_seed_fills_only_an_empty_table(db: Database) -> None:
    knowledge = FaqKnowledge(db, FaqBook([]))
    shipped = len(read_records())
    assert await knowledge.seed_if_empty() == shipped
    assert await knowledge.seed_if_empty() == 0
    assert await knowledge.refresh() is True
    assert len(knowledge.book.entries) == shipped
    entry = knowledge.book.match("gio mo cua")
    assert entry is not None and entry.id == "opening_hours"
    assert entry.answer("en").startswith("Omni Spa & Clinic is open")
    assert set(entry.questions) == {"vi", "en"}


async def test_upsert_counts_and_replace_deactivates(db: Database) -> None:
    async with db.transaction() as session:
        first = await faq_store.upsert(session, read_records())
    assert first.created == len(read_records()) and first.updated == first.unchanged == 0
    changed = FaqRecord(**{**PETS.__dict__, "key": "wifi"})
    async with db.transaction() as session:
        counts = await faq_store.upsert(session, [PETS, changed], replace=True)
    assert (counts.created, counts.updated, counts.unchanged) == (1, 1, 0)
    assert counts.deactivated == len(read_records()) - 1
    async with db.reading() as session:
        book = await load_book(session)
    assert sorted(entry.id for entry in book.entries) == ["pets", "wifi"]
    async with db.transaction() as session:
        again = await faq_store.upsert(session, [PETS])
    assert (again.created, again.updated, again.unchanged, again.deactivated) == (0, 0, 1, 0)


@pytest.mark.parametrize(
    "record",
    [
        FaqRecord(key="Bad Key", questions=("a",), answer_vi="b"),
        FaqRecord(key="x", questions=(" ",), answer_vi="b"),
        FaqRecord(key="x", questions=("a",), answer_vi=" ", answer_en=""),
    ],
)
async def test_invalid_records_are_refused(db: Database, record: FaqRecord) -> None:
    async with db.transaction() as session:
        with pytest.raises(ValueError):
            await faq_store.upsert(session, [record])


async def test_refresh_follows_writes_and_is_cheap_when_nothing_changed(db: Database) -> None:
    knowledge = FaqKnowledge(db)
    held = knowledge.book
    assert await knowledge.refresh() is True  # empty table: an empty book
    assert held.match("are pets allowed") is None
    assert await knowledge.refresh() is False
    async with db.transaction() as session:
        await faq_store.upsert(session, [PETS])
    assert await knowledge.refresh() is True
    found = held.match("co cho mang thu cung ko")
    assert found is not None and found.answer("vi") == "Không ạ."
    async with db.transaction() as session:
        row = await faq_store.get(session, "pets")
        assert row is not None
        faq_store.apply(row, FaqRecord(**{**PETS.__dict__, "active": False}))
    assert await knowledge.refresh() is True
    assert held.match("are pets allowed") is None
