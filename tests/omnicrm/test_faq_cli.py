"""`omnicrm faq import`: upsert by key, --replace, clear errors, and a running bot follows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from conversations import faq_store as kb
from crm_core.db import Database
from crm_core.models import FaqEntry
from omnicrm.cli import app
from tests.conftest import make_settings, running_app

runner = CliRunner()

PETS = """\
  - id: pets
    questions:
      vi: [có cho mang thú cưng không]
      en: [are pets allowed]
    answers:
      vi: Spa không nhận thú cưng ạ.
      en: Sorry, pets are not allowed.
"""
WIFI = """\
  - id: wifi
    questions:
      vi: [mật khẩu wifi]
    answers:
      vi: {answer}
"""


async def invoke(args: list[str]) -> Result:
    """Run the CLI in a thread: its commands call asyncio.run, which needs a loop of its own."""
    return await asyncio.to_thread(runner.invoke, app, args)


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("OMNICRM_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    return database_url


def _file(tmp_path: Path, name: str, *entries: str) -> Path:
    path = tmp_path / name
    path.write_text("entries:\n" + "".join(entries), encoding="utf-8")
    return path


async def _rows(url: str) -> dict[str, FaqEntry]:
    db = Database(url)
    try:
        async with db.reading() as session:
            return {row.key: row for row in (await session.execute(select(FaqEntry))).scalars()}
    finally:
        await db.dispose()


async def test_import_upserts_by_key_and_replace_deactivates(cli_env: str, tmp_path: Path) -> None:
    first = _file(tmp_path, "a.yml", PETS, WIFI.format(answer="omni2025"))
    result = await invoke(["faq", "import", str(first)])
    assert result.exit_code == 0, result.output
    assert "faq import: 2 created, 0 updated, 0 unchanged, 0 deactivated" in result.output
    rows = await _rows(cli_env)
    assert rows["pets"].questions == ["có cho mang thú cưng không", "are pets allowed"]
    assert rows["pets"].answer_en == "Sorry, pets are not allowed."

    second = _file(tmp_path, "b.yml", PETS, WIFI.format(answer="omni2026"))
    result = await invoke(["faq", "import", str(second)])
    assert "0 created, 1 updated, 1 unchanged, 0 deactivated" in result.output
    assert (await _rows(cli_env))["wifi"].answer_vi == "omni2026"

    only_wifi = _file(tmp_path, "c.yml", WIFI.format(answer="omni2026"))
    result = await invoke(["faq", "import", "--replace", str(only_wifi)])
    assert "0 created, 0 updated, 1 unchanged, 1 deactivated" in result.output
    rows = await _rows(cli_env)
    assert rows["pets"].active is False and rows["wifi"].active is True

    result = await invoke(["faq", "import", str(first)])  # back in the file: active again
    assert "0 created, 2 updated, 0 unchanged, 0 deactivated" in result.output
    assert (await _rows(cli_env))["pets"].active is True


@pytest.mark.parametrize(
    "content",
    [
        "entries: nope\n",
        "entries:\n  - id: x\n    questions: {vi: [a]}\n",
        "entries:\n  - id: Bad Key\n    questions: {vi: [a]}\n    answers: {vi: b}\n",
        "entries: [\n",
    ],
)
async def test_bad_files_are_refused_without_changes(
    cli_env: str, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content, encoding="utf-8")
    result = await invoke(["faq", "import", str(path)])
    assert result.exit_code == 2 and "error:" in result.output
    assert await _rows(cli_env) == {}
    missing = await invoke(["faq", "import", str(tmp_path / "none.yml")])
    assert missing.exit_code == 2


async def test_seed_demo_loads_the_shipped_faq(cli_env: str) -> None:
    assert (await invoke(["seed-demo"])).exit_code == 0
    rows = await _rows(cli_env)
    assert len(rows) == len(kb.read_records()) and "opening_hours" in rows


async def test_a_running_bot_picks_up_an_import(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb, "REFRESH_SECONDS", 0.05)
    async with running_app(make_settings(cli_env)) as harness:
        book = harness.runtime.faq.book
        assert book.match("gio mo cua") is not None  # seeded at start
        assert book.match("are pets allowed") is None
        result = await invoke(["faq", "import", str(_file(tmp_path, "p.yml", PETS))])
        assert result.exit_code == 0, result.output
        for _ in range(100):
            if book.match("are pets allowed") is not None:
                break
            await asyncio.sleep(0.05)
        found = book.match("co cho mang thu cung khong")
        assert found is not None and found.id == "pets"
