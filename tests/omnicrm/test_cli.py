"""The command line as a user runs it: migrate, keys, users, demo data, NLU parse."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from crm_core.db import Database
from crm_core.models import InboxEvent
from omnicrm.cli import app
from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN, make_settings, running_app
from tests.fakes import mails
from tests.fakes.imap import FakeImap
from tests.fakes.telegram import FakeTelegram

runner = CliRunner()


async def invoke(args: list[str], stdin: str | None = None) -> Result:
    """Run the CLI in a thread: its commands call asyncio.run, which needs a loop of its own."""
    return await asyncio.to_thread(runner.invoke, app, args, input=stdin)


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> str:
    monkeypatch.setenv("OMNICRM_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # so no stray .env is read
    return database_url


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "demo", "migrate", "seed-demo", "apikey", "users", "nlu"):
        assert command in result.output


async def test_apikey_create_prints_a_working_key_last(cli_env: str) -> None:
    assert (await invoke(["migrate"])).exit_code == 0
    result = await invoke(["apikey", "create", "--role", "supervisor", "--name", "ci"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("omk_")
    async with running_app(make_settings(cli_env)) as harness:
        ok = await harness.client.post(
            "/api/v1/nlu/parse", json={"text": "hi"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert ok.status_code == 200


def test_apikey_create_refuses_an_unknown_role(cli_env: str) -> None:
    result = runner.invoke(app, ["apikey", "create", "--role", "owner", "--name", "x"])
    assert result.exit_code == 2


async def test_users_create_reads_the_password_from_stdin(cli_env: str) -> None:
    args = ["users", "create", "--email", "Mai@Example.com", "--role", "agent", "--password-stdin"]
    result = await invoke(args, "correct horse battery\n")
    assert result.exit_code == 0, result.output
    again = await invoke(args, "correct horse battery\n")
    assert again.exit_code == 2
    assert "already exists" in again.output
    short = await invoke(
        ["users", "create", "--email", "b@example.com", "--role", "agent", "--password-stdin"],
        "short\n",
    )
    assert short.exit_code == 2


async def test_seed_demo_loads_customers_once(cli_env: str) -> None:
    first = await invoke(["seed-demo"])
    assert first.exit_code == 0 and "loaded" in first.output
    second = await invoke(["seed-demo"])
    assert "already present" in second.output
    async with running_app(make_settings(cli_env)) as harness:
        customers = (await harness.get("/api/v1/customers")).json()["items"]
        assert len(customers) == 3
        lan = (await harness.get("/api/v1/customers", phone="0912345678")).json()["items"]
        assert lan[0]["name"] == "Nguyễn Thị Lan"
        view = (await harness.get(f"/api/v1/customers/{lan[0]['id']}")).json()
        assert view["stats"]["lifetime_value"] == 1_650_000
        assert [p["description"] for p in view["purchases"]] == [
            "Điều trị mụn chuyên sâu",
            "Chăm sóc da mặt cơ bản",
        ]
        assert view["conversations"][0]["status"] == "resolved"
        services = (await harness.get("/api/v1/services")).json()["items"]
        assert {s["key"] for s in services} >= {"skin_consultation", "facial_basic"}


def test_nlu_parse_prints_rasa_shaped_json() -> None:
    result = runner.invoke(app, ["nlu", "parse", "cho mình gặp nhân viên"])
    assert result.exit_code == 0
    parsed = json.loads(result.output)
    assert parsed["intent"]["name"] == "request_human"
    assert parsed["language"] == "vi"
    assert set(parsed) >= {"text", "intent", "entities", "intent_ranking", "language"}


async def test_telegram_set_webhook_registers_the_public_url_with_the_secret(
    monkeypatch: pytest.MonkeyPatch, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMNICRM_TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("OMNICRM_TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET)
    monkeypatch.setenv("OMNICRM_TELEGRAM_API_BASE", fake_telegram.url)
    monkeypatch.setenv("OMNICRM_PUBLIC_URL", "https://crm.example.com/")
    result = await invoke(["telegram", "set-webhook"])
    assert result.exit_code == 0, result.output
    [(method, payload)] = fake_telegram.calls
    assert method == "setWebhook"
    assert payload["url"] == "https://crm.example.com/webhooks/telegram"
    assert payload["secret_token"] == TELEGRAM_SECRET


async def test_telegram_set_webhook_without_credentials_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OMNICRM_TELEGRAM_BOT_TOKEN", raising=False)
    result = await invoke(["telegram", "set-webhook"])
    assert result.exit_code == 2
    assert "OMNICRM_TELEGRAM_BOT_TOKEN" in result.output


async def test_email_poll_once_stores_new_mail_for_the_worker(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap = await FakeImap().start()
    try:
        imap.add(mails.vietnamese_qp())
        for name, value in {
            "SMTP_HOST": "127.0.0.1",
            "EMAIL_FROM": mails.SUPPORT,
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(imap.port),
            "IMAP_SSL": "false",
            "IMAP_USERNAME": imap.username,
            "IMAP_PASSWORD": imap.password,
        }.items():
            monkeypatch.setenv(f"OMNICRM_{name}", value)
        first = await invoke(["email", "poll", "--once"])
        assert first.exit_code == 0, first.output
        assert first.output.strip().endswith("stored 1 new mails")
        second = await invoke(["email", "poll", "--once"])
        assert second.output.strip().endswith("stored 0 new mails")
    finally:
        await imap.stop()
    db = Database(cli_env)
    async with db.reading() as session:
        stored = await session.scalar(select(func.count()).select_from(InboxEvent))
    await db.dispose()
    assert stored == 1


async def test_email_poll_without_imap_settings_says_what_is_missing(cli_env: str) -> None:
    result = await invoke(["email", "poll", "--once"])
    assert result.exit_code == 2
    assert "OMNICRM_IMAP_HOST" in result.output


async def test_a_bad_setting_is_one_clear_line(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNICRM_NLU_BACKEND", "raas")
    result = await invoke(["migrate"])
    assert result.exit_code == 2
    assert "invalid setting OMNICRM_NLU_BACKEND" in result.output
    assert "Traceback" not in result.output
