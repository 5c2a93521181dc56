"""`omnicrm export transcripts|conversations` against a migrated database, as a user runs it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from crm_core.db import Database
from crm_core.models import AuditLog
from omnicrm.cli import app
from tests.crm_core.test_export_rows import HEADER, ROW_BOT, ROW_HANDED, ROW_OPEN
from tests.crm_core.test_export_rows import seed_export_fixture as seed

runner = CliRunner()
DAY = ["--from", "2025-03-10", "--to", "2025-03-10"]


async def invoke(args: list[str]) -> Result:
    """In a thread: the commands call asyncio.run, which needs a loop of their own."""
    return await asyncio.to_thread(runner.invoke, app, args)


@pytest.fixture
async def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
    monkeypatch.setenv("OMNICRM_DATABASE_URL", database_url)
    monkeypatch.setenv("OMNICRM_TIMEZONE", "Asia/Ho_Chi_Minh")
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    assert (await invoke(["migrate"])).exit_code == 0
    db = Database(database_url)
    await seed(db)
    return db


async def _audit(db: Database) -> list[AuditLog]:
    try:
        async with db.reading() as session:
            return list((await session.scalars(select(AuditLog))).all())
    finally:
        await db.dispose()


async def test_transcripts_json_to_a_file_is_audited(seeded: Database, tmp_path: Path) -> None:
    out = tmp_path / "transcripts.ndjson"
    result = await invoke(["export", "transcripts", *DAY, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["conversation_id"] for r in records] == ["c1", "c2", "c4"]
    assert [m["text"] for m in records[1]["messages"]] == ["hi"]
    assert not (tmp_path / "transcripts.ndjson.part").exists()
    assert "exported 3 conversations" in result.output
    [entry] = await _audit(seeded)
    assert (entry.action, entry.actor_type) == ("export", "cli")
    assert entry.data == {
        "kind": "transcripts",
        "format": "json",
        "from": "2025-03-10",
        "to": "2025-03-10",
        "rows": 3,
    }


async def test_conversations_csv_to_a_file(seeded: Database, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    result = await invoke(["export", "conversations", *DAY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().decode("utf-8") == "\ufeff" + HEADER + ROW_HANDED + ROW_BOT + ROW_OPEN
    assert len(await _audit(seeded)) == 1


async def test_transcripts_csv_to_stdout_with_a_filter(seeded: Database) -> None:
    result = await invoke(["export", "transcripts", *DAY, "--channel", "webchat"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("\ufeffconversation_id,customer_id,seq,")
    assert len(result.stdout.splitlines()) == 2  # header and the one message of c2
    await seeded.dispose()


async def test_bad_dates_and_format_fail_clearly(seeded: Database) -> None:
    bad_day = await invoke(["export", "transcripts", "--from", "10/03/2025", "--to", "2025-03-10"])
    assert bad_day.exit_code == 2 and "not a date" in bad_day.output
    backwards = await invoke(
        ["export", "transcripts", "--from", "2025-03-11", "--to", "2025-03-10"]
    )
    assert backwards.exit_code == 2 and "--from must not be after --to" in backwards.output
    bad_format = await invoke(["export", "transcripts", *DAY, "--format", "pdf"])
    assert bad_format.exit_code == 2
    assert await _audit(seeded) == []
