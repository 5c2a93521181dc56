"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
an app built around it, and a fake Telegram Bot API on a free local port."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

# Tests want the whole NLU from the first message (a cold cache otherwise starts with the fast
# branch and adds the embedding branch in the background).
os.environ.setdefault("OMNICRM_NLU_BLOCKING_START", "1")

from crm_core.auth import create_api_key
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.migrate import upgrade
from crm_core.models import Base, InboxEvent, Message
from omnicrm.app import create_app
from omnicrm.runtime import Runtime
from omnicrm.settings import Settings
from tests.fakes.telegram import FakeTelegram

PG_URL = os.environ.get("OMNICRM_TEST_DATABASE_URL")
TELEGRAM_TOKEN = "123456:TEST-TOKEN"
TELEGRAM_SECRET = "test-secret_token-1"
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied per test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def _make() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db.engine)
        await db.dispose()

    asyncio.run(_make())
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """Reset the test database once and migrate it; a set but unreachable URL fails here."""
    assert PG_URL is not None

    async def _reset() -> None:
        engine = create_async_engine(PG_URL)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()
        db = Database(PG_URL)
        await upgrade(db.engine)
        await db.dispose()

    asyncio.run(_reset())
    return PG_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database URL for this test."""
    if request.param == "sqlite":
        target = tmp_path / "omnicrm.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("pg_migrated")

    async def _truncate() -> None:
        engine = create_async_engine(url)
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {names} CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(_truncate())
    return url


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(token=TELEGRAM_TOKEN).start()
    yield fake
    await fake.stop()


def make_settings(
    database_url: str, telegram_url: str | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auto_migrate": False,
        "dispatch_poll_seconds": 0.2,
        "public_url": "http://testserver",
    }
    if telegram_url:
        values.update(
            telegram_bot_token=TELEGRAM_TOKEN,
            telegram_webhook_secret=TELEGRAM_SECRET,
            telegram_api_base=telegram_url,
        )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Harness:
    """A running app plus helpers: an HTTP client, API keys, and the runtime inside."""

    def __init__(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self._keys: dict[Role, str] = {}

    async def key(self, role: Role = Role.ADMIN) -> str:
        if role not in self._keys:
            async with self.runtime.db.transaction() as session:
                _, plain = await create_api_key(session, name=f"test {role.value}", role=role)
            self._keys[role] = plain
        return self._keys[role]

    async def get(self, path: str, role: Role = Role.ADMIN, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.key(role)}"}
        return await self.client.get(path, params=params or None, headers=headers)

    async def telegram(
        self, update: dict[str, Any], *, secret: str | None = TELEGRAM_SECRET
    ) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post("/webhooks/telegram", json=update, headers=headers)

    async def count(self, model: type, **where: object) -> int:
        """Rows of `model` matching the equality filters, straight from the database."""
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        async with self.runtime.db.reading() as session:
            return int(await session.scalar(stmt) or 0)

    async def settle(self, within: float = 10.0) -> None:
        """Wait until the inbox is processed and nothing is due in the outbox."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            async with self.runtime.db.reading() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(InboxEvent)
                    .where(InboxEvent.status == "pending")
                )
                queued = await session.scalar(
                    select(func.count()).select_from(Message).where(Message.status == "queued")
                )
            if not pending and not queued:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not settled: {pending} inbox events pending, {queued} queued")


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Harness]:
    """Start the app's lifespan (worker and dispatcher included) and give a client to it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(client, app.state.runtime)


AppFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def harness(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    async with running_app(make_settings(database_url, fake_telegram.url)) as running:
        yield running
