"""What the CLI commands do, as plain async functions (testable without a terminal)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import uvicorn
import yaml
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from conversations.faq_store import read_records as read_faq_records
from conversations.redis_bus import RedisBus, connect
from crm_core import demo as demo_data
from crm_core import faq_store
from crm_core.auth import create_agent
from crm_core.auth import create_api_key as new_api_key
from crm_core.automation import AutomationRules, Report, run_due
from crm_core.booking import BookingRules
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.migrate import upgrade
from crm_core.reporting.export_audit import audit_export
from crm_core.reporting.export_query import ExportQuery
from crm_core.reporting.export_render import Format, Kind, render
from crm_core.types import utcnow
from omnicrm.dead_letters import UnknownDeadLetters, replay_dead_letters
from omnicrm.runtime import Runtime
from omnicrm.settings import Settings

DEMO_AGENT_EMAIL = demo_data.DEMO_AGENT_EMAIL
DEMO_AGENT_PASSWORD = demo_data.DEMO_AGENT_PASSWORD
DRAIN_ROUNDS = 50  # outbox batches one `automation run-due` sends before it exits


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    """A Database for one command, disposed afterwards."""
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        await db.dispose()


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit code 2."""


def safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


async def migrate(settings: Settings) -> None:
    async with _database(settings) as db:
        await upgrade(db.engine)


async def seed_demo(settings: Settings) -> bool:
    await migrate(settings)
    async with _database(settings) as db, db.transaction() as session:
        created = await demo_data.seed(session, BookingRules.from_settings(settings))
        await faq_store.seed_if_empty(session, read_faq_records())  # the shipped faq.yml
        return created


async def import_faq(settings: Settings, path: Path, *, replace: bool) -> faq_store.ImportCounts:
    """Upsert a FAQ YAML file into the knowledge base (running bots pick it up in seconds)."""
    try:
        records = read_faq_records(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    async with _database(settings) as db, db.transaction() as session:
        try:
            return await faq_store.upsert(session, records, replace=replace)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc


async def create_api_key(settings: Settings, *, name: str, role: Role) -> str:
    if not name.strip():
        raise CommandError("--name must not be empty")
    async with _database(settings) as db, db.transaction() as session:
        _, plain = await new_api_key(session, name=name.strip(), role=role)
    return plain


@dataclass(frozen=True)
class Routing:
    """How new conversations reach this user (see handoff.assignment)."""

    languages: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    slack_user_id: str | None = None
    available: bool = False


async def create_user(
    settings: Settings,
    *,
    email: str,
    role: Role,
    password: str,
    name: str | None,
    routing: Routing | None = None,
) -> str:
    if "@" not in email:
        raise CommandError("--email must be an e-mail address")
    route = routing or Routing()
    try:
        async with _database(settings) as db, db.transaction() as session:
            agent = await create_agent(
                session, email=email, role=role, password=password, name=name
            )
            agent.languages = route.languages
            agent.skills = route.skills
            agent.slack_user_id = route.slack_user_id
            agent.available = route.available
            return agent.id
    except IntegrityError as exc:
        raise CommandError(
            f"a user with e-mail {email.strip().lower()} or that Slack user already exists"
        ) from exc


async def prepare_demo(settings: Settings) -> str:
    """Migrate, seed (once) and return a fresh admin key for this demo run."""
    await seed_demo(settings)
    return await create_api_key(settings, name="demo admin", role=Role.ADMIN)


async def set_telegram_webhook(settings: Settings) -> str:
    token = settings.secret("telegram_bot_token")
    secret = settings.secret("telegram_webhook_secret")
    if not token or not secret:
        raise CommandError("set OMNICRM_TELEGRAM_BOT_TOKEN and OMNICRM_TELEGRAM_WEBHOOK_SECRET")
    url = settings.public_url.rstrip("/") + "/webhooks/telegram"
    from channels.telegram import TelegramAdapter

    adapter = TelegramAdapter(
        token=token, webhook_secret=secret, api_base=settings.telegram_api_base
    )
    try:
        await adapter.set_webhook(url)
    except Exception as exc:
        raise CommandError(f"Telegram refused setWebhook: {exc}") from exc
    finally:
        await adapter.close()
    return url


def serve(settings: Settings, *, host: str, port: int, with_worker: bool = False) -> None:
    """Run uvicorn on the app factory with these settings (one process: SQLite has one writer).

    With Redis the web process only stores and publishes; `omnicrm worker` processes, unless
    `with_worker` runs a consumer here too. Without Redis the worker is embedded, as before.
    """
    from omnicrm.app import create_app

    settings = serve_settings(settings, with_worker=with_worker)
    # No access log: query strings carry phones and e-mails (customer search), never log them.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


def serve_settings(settings: Settings, *, with_worker: bool) -> Settings:
    """The web process's settings: with Redis it consumes only when asked to."""
    if settings.redis_url:
        return settings.model_copy(update={"embedded_worker": with_worker})
    return settings


async def run_worker(settings: Settings) -> None:
    """Run the bus consumer (Redis) or inbox polling, and the dispatcher, until SIGINT/SIGTERM.

    A stop finishes the events in hand and releases the partition leases (Runtime.stop).
    """
    runtime = Runtime.build(settings.model_copy(update={"embedded_worker": True}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await runtime.start(poll_inbox=True)
    try:
        await stop.wait()
    finally:
        await runtime.stop()


@dataclass(frozen=True)
class DeadLetterRow:
    """One dead letter as `omnicrm dlq list` prints it."""

    id: str
    event_id: str | None
    source: str
    deliveries: int
    reason: str
    dead_at: datetime


@contextlib.asynccontextmanager
async def _redis_bus(settings: Settings) -> AsyncIterator[RedisBus]:
    if not settings.redis_url:
        raise CommandError("set OMNICRM_REDIS_URL: dead letters exist only on the Redis bus")
    bus = RedisBus(
        connect(settings.redis_url),
        partitions=settings.worker_partitions,
        prefix=settings.redis_prefix,
        maxlen=settings.redis_stream_maxlen,
    )
    try:
        yield bus
    except (RedisError, OSError) as exc:
        raise CommandError(f"Redis problem: {exc}") from exc
    finally:
        await bus.client.aclose()


async def dlq_list(settings: Settings, *, limit: int = 1000) -> list[DeadLetterRow]:
    async with _redis_bus(settings) as bus:
        letters = await bus.dead_letters(limit=limit)
    return [
        DeadLetterRow(
            letter.id,
            letter.event_id(),
            letter.source,
            letter.deliveries,
            letter.reason,
            letter.dead_at,
        )
        for letter in letters
    ]


async def dlq_replay(settings: Settings, ids: list[str] | None) -> int:
    """Publish dead letters again (all when `ids` is None); their inbox rows become pending."""
    async with _redis_bus(settings) as bus, _database(settings) as db:
        try:
            replayed = await replay_dead_letters(bus, db, ids)
        except UnknownDeadLetters as exc:
            raise CommandError(str(exc)) from exc
    return len(replayed)


async def poll_email(settings: Settings, *, once: bool) -> int:
    """Poll the configured IMAP mailbox; the stored mails are processed by a worker."""
    from omnicrm.email_poll import build_poller, imap_configured, poll_forever, poll_once

    runtime = Runtime.build(settings.model_copy(update={"embedded_worker": False}))
    try:
        if not imap_configured(runtime):
            raise CommandError(
                "set OMNICRM_SMTP_HOST, OMNICRM_EMAIL_FROM and OMNICRM_IMAP_HOST, "
                "OMNICRM_IMAP_USERNAME, OMNICRM_IMAP_PASSWORD"
            )
        if settings.auto_migrate:
            await upgrade(runtime.db.engine)
        if once:
            return await poll_once(runtime, build_poller(runtime))
        await poll_forever(runtime)
        return 0
    finally:
        await runtime.stop()


async def automation_run_due(settings: Settings, *, now: datetime | None) -> tuple[Report, int]:
    """One automation pass at `now`, then drain the outbox so a cron run really sends.

    Returns the pass's report and how many outbox messages the drain attempted.
    """
    runtime = Runtime.build(settings.model_copy(update={"embedded_worker": False}))
    try:
        if settings.auto_migrate:
            await upgrade(runtime.db.engine)
        rules = AutomationRules.from_settings(settings, channels=runtime.adapters)
        report = await run_due(runtime.db, now=now or utcnow(), rules=rules)
        attempted = 0
        for _ in range(DRAIN_ROUNDS):
            done = await runtime.dispatcher.drain()
            attempted += done
            if not done:
                break
        return report, attempted
    finally:
        await runtime.stop()


@dataclass(frozen=True)
class ExportRequest:
    """What `omnicrm export ...` was asked for: local days first..last, inclusive."""

    kind: Kind
    fmt: Format
    first: date
    last: date
    channel: str | None = None
    status: str | None = None


async def export(
    settings: Settings,
    request: ExportRequest,
    *,
    sink: TextIO,
    on_start: Callable[[int], None] = lambda total: None,
    on_record: Callable[[], None] = lambda: None,
) -> int:
    """Audit the export (actor "cli"), then stream it into `sink`; returns the conversations."""
    if request.first > request.last:
        raise CommandError("--from must not be after --to")
    query = ExportQuery.local_days(
        request.first,
        request.last,
        timezone=settings.timezone,
        channel=request.channel,
        status=request.status,
    )
    async with _database(settings) as db:
        total = await audit_export(
            db,
            query,
            kind=request.kind,
            fmt=request.fmt,
            first=request.first,
            last=request.last,
            actor_type="cli",
            actor_id=_os_user(),
        )
        on_start(total)
        zone = ZoneInfo(settings.timezone)
        chunks = render(
            db, query, kind=request.kind, fmt=request.fmt, zone=zone, on_record=on_record
        )
        async for chunk in chunks:
            sink.write(chunk)
    return total


def _os_user() -> str | None:
    """The login running the command: who exported, for the audit log."""
    try:
        return getpass.getuser()[:64]
    except (OSError, KeyError):
        return None
