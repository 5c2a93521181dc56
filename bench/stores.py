"""The databases and the Redis a configuration runs on: create, measure, inspect, drop."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Protocol

import asyncpg

# Row states by table, so a run can say what was left unprocessed or unsent.
STATE_QUERIES = {
    "inbox": "SELECT status, count(*) FROM inbox_events GROUP BY status",
    "out": "SELECT status, count(*) FROM messages WHERE direction = 'out' GROUP BY status",
    "conversation": "SELECT status, count(*) FROM conversations GROUP BY status",
}
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


class Store(Protocol):
    url: str

    async def create(self) -> None: ...
    async def size_bytes(self) -> int: ...
    async def activity(self) -> dict[str, int]: ...
    async def state(self) -> dict[str, int] | None: ...
    async def drop(self) -> None: ...


class SqliteStore:
    """A SQLite file in the repetition's temp dir (deleted with it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite+aiosqlite:///{path}"

    async def create(self) -> None:
        return None  # `omnicrm migrate` creates the file

    async def size_bytes(self) -> int:
        """File size once the WAL is folded in, so pending pages are counted once."""
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return sum(p.stat().st_size for p in self.path.parent.glob(f"{self.path.name}*"))

    async def activity(self) -> dict[str, int]:
        return {}  # SQLite keeps no such counters

    async def state(self) -> dict[str, int] | None:
        conn = sqlite3.connect(self.path)
        try:
            return {
                f"{prefix}:{status}": int(count)
                for prefix, query in STATE_QUERIES.items()
                for status, count in conn.execute(query)
            }
        except sqlite3.Error:
            return None  # the schema changed; the check is a courtesy, not the benchmark
        finally:
            conn.close()

    async def drop(self) -> None:
        return None


class PostgresStore:
    """A database of its own (`omnicrm_bench_<random>`) on the server of `server_url`."""

    def __init__(self, server_url: str) -> None:
        base, _, _ = server_url.rpartition("/")
        self.name = f"omnicrm_bench_{uuid.uuid4().hex[:10]}"
        self._admin = _dsn(server_url)
        self._dsn = _dsn(f"{base}/{self.name}")
        self.url = f"{base}/{self.name}"
        self._created = False

    async def create(self) -> None:
        conn = await asyncpg.connect(self._admin, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            self._created = True
        finally:
            await conn.close()

    async def size_bytes(self) -> int:
        conn = await asyncpg.connect(self._dsn, timeout=5)
        try:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    async def activity(self) -> dict[str, int]:
        """Commits and rows written so far in this database (pg_stat_database), so a run can
        say how many of each one message costs."""
        conn = await asyncpg.connect(self._dsn, timeout=5)
        try:
            row = await conn.fetchrow(
                "SELECT xact_commit, xact_rollback, tup_inserted + tup_updated + tup_deleted "
                "AS rows_written FROM pg_stat_database WHERE datname = current_database()"
            )
        finally:
            await conn.close()
        return {key: int(value) for key, value in dict(row or {}).items()}

    async def state(self) -> dict[str, int] | None:
        conn = await asyncpg.connect(self._dsn, timeout=5)
        try:
            state: dict[str, int] = {}
            for prefix, query in STATE_QUERIES.items():
                for status, count in await conn.fetch(query):
                    state[f"{prefix}:{status}"] = int(count)
            return state
        except asyncpg.PostgresError:
            return None
        finally:
            await conn.close()

    async def drop(self) -> None:
        if not self._created:
            return
        conn = await asyncpg.connect(self._admin, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._created = False
        finally:
            await conn.close()


async def postgres_problem(server_url: str) -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        conn = await asyncpg.connect(_dsn(server_url), timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL unreachable ({type(exc).__name__}: {exc})"
    return None


async def redis_problem(url: str) -> str | None:
    """Why Redis cannot be used, or None when it answers PING."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        return f"Redis unreachable ({type(exc).__name__}: {exc})"
    finally:
        await client.aclose()
    return None


async def redis_forget(url: str, prefix: str) -> int:
    """Delete every key of this run's prefix; returns how many there were."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


def _dsn(url: str) -> str:
    """asyncpg wants plain postgresql://, SQLAlchemy URLs name the driver."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url
