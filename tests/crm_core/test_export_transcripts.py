"""Transcript exports (messages in order) and the CSV formula-injection guard."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crm_core.db import Database
from crm_core.reporting.export_format import csv_safe
from crm_core.reporting.export_query import ExportQuery
from crm_core.reporting.export_render import render
from tests.crm_core.test_export_rows import DAY, TZ, ZONE, seed_export_fixture


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Nguyễn = an", "Nguyễn = an"),
        ("", ""),
        (-2, -2),
        (None, None),
    ],
)
def test_csv_safe_neutralises_formula_starts(cell: object, written: object) -> None:
    assert csv_safe(cell) == written


async def _transcripts(db: Database, fmt: str) -> str:
    query = ExportQuery.local_days(DAY, DAY, timezone=TZ)
    chunks = render(db, query, kind="transcripts", fmt=fmt, zone=ZONE)  # type: ignore[arg-type]
    return "".join([chunk async for chunk in chunks])


async def test_transcripts_as_ndjson_keep_message_order(database_url: str) -> None:
    db = Database(database_url)
    try:
        await seed_export_fixture(db)
        lines = (await _transcripts(db, "json")).splitlines()
    finally:
        await db.dispose()
    records = [json.loads(line) for line in lines]
    assert [r["conversation_id"] for r in records] == ["c1", "c2", "c4"]
    first = records[0]
    assert first["customer_name"] == "Nguyễn Thị Lan"
    assert [m["text"] for m in first["messages"]] == [
        "early",
        "bot, not agent",
        "Chào chị",
        "second",
    ]
    assert first["messages"][2] == {
        "author_type": "agent",
        "author_name": None,
        "direction": "out",
        "channel": "telegram",
        "text": "Chào chị",
        "status": "sent",
        "created_at": "2025-03-10T09:02:30+07:00",
    }
    assert records[2]["messages"] == []


async def test_transcripts_as_csv_are_a_row_per_message(database_url: str) -> None:
    db = Database(database_url)
    try:
        await seed_export_fixture(db)
        text = await _transcripts(db, "csv")
    finally:
        await db.dispose()
    assert text.startswith("\ufeffconversation_id,customer_id,seq,author_type,")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [(r["conversation_id"], r["seq"], r["text"]) for r in rows] == [
        ("c1", "1", "early"),
        ("c1", "2", "bot, not agent"),
        ("c1", "3", "Chào chị"),
        ("c1", "4", "second"),
        ("c2", "1", "hi"),
    ]
