"""`omnicrm nlu corrections export`: reviewers' corrections as Rasa NLU YAML that the repo's
reader and `omnicrm nlu evaluate` take back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from crm_core import qa
from crm_core.db import Database
from nlu.rasa_yaml import read_nlu
from omnicrm.cli import app
from tests.handoff.transcript_data import BOOKING_TEXT, seed_conversation

runner = CliRunner()
INTENTS = ("book_consultation", "complaint", "greet", "pricing")
API_KEY = qa.Reviewer(actor_type="api_key", actor_id="key-1")


async def invoke(args: list[str]) -> Result:
    return await asyncio.to_thread(runner.invoke, app, args)


@pytest.fixture
async def db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Database]:
    monkeypatch.setenv("OMNICRM_DATABASE_URL", database_url)
    monkeypatch.setenv("OMNICRM_TIMEZONE", "Asia/Ho_Chi_Minh")
    database = Database(database_url)
    yield database
    await database.dispose()


async def _flag(db: Database, message_id: str, intent: str) -> None:
    async with db.transaction() as session:
        await qa.flag_message(
            session, message_id, correct_intent=intent, allowed=INTENTS, reviewer=API_KEY
        )


async def test_corrections_export_as_rasa_yaml_grouped_by_the_correct_intent(
    db: Database, tmp_path: Path
) -> None:
    seeded = await seed_conversation(db, hostile="giá [gói](service) chăm\nsóc da bao nhiêu?")
    other = await seed_conversation(db, name="Bình", hostile="tôi muốn khiếu nại")
    await _flag(db, seeded.booking_message_id, "greet")
    await _flag(db, seeded.booking_message_id, "pricing")  # the reviewer changed their mind
    await _flag(db, seeded.hostile_message_id, "pricing")
    await _flag(db, other.hostile_message_id, "complaint")
    await _flag(db, other.booking_message_id, "pricing")  # the same text as Lan's: once

    out = tmp_path / "corrections.yml"
    result = await invoke(["nlu", "corrections", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 3 corrections (2 intents)" in result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith('version: "3.1"\n\nnlu:\n  - intent: complaint\n    examples: |\n')
    data = read_nlu(out)
    pairs = [(example.intent, example.text) for example in data.examples]
    assert pairs == [
        ("complaint", "tôi muốn khiếu nại"),
        ("pricing", BOOKING_TEXT),
        ("pricing", "giá [gói] (service) chăm sóc da bao nhiêu?"),  # no entity markup, one line
    ]
    assert all(example.entities == () for example in data.examples)

    scored = await invoke(["nlu", "evaluate", "--data", str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.output[scored.output.index("{") :])
    assert report["examples"] == 3


async def test_since_keeps_the_newer_corrections_and_stdout_works(db: Database) -> None:
    seeded = await seed_conversation(db)
    await _flag(db, seeded.booking_message_id, "pricing")

    now = await invoke(["nlu", "corrections", "export", "--since", "2020-01-01"])
    assert now.exit_code == 0 and f"- {BOOKING_TEXT}" in now.output
    assert "  - intent: pricing" in now.output
    later = await invoke(["nlu", "corrections", "export", "--since", "2999-01-01T00:00:00+07:00"])
    assert later.exit_code == 0 and "exported 0 corrections" in later.output
    assert "- intent:" not in later.output
    bad = await invoke(["nlu", "corrections", "export", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since 'yesterday' is not an ISO-8601" in bad.output
