"""What the CLI commands do, as plain async functions (testable without a terminal)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from crm_core import demo as demo_data
from crm_core.auth import create_agent
from crm_core.auth import create_api_key as new_api_key
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.migrate import upgrade
from omnicrm.runtime import Runtime
from omnicrm.settings import Settings

DEMO_AGENT_EMAIL = demo_data.DEMO_AGENT_EMAIL
DEMO_AGENT_PASSWORD = demo_data.DEMO_AGENT_PASSWORD


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
        return await demo_data.seed(session)


async def create_api_key(settings: Settings, *, name: str, role: Role) -> str:
    if not name.strip():
        raise CommandError("--name must not be empty")
    async with _database(settings) as db, db.transaction() as session:
        _, plain = await new_api_key(session, name=name.strip(), role=role)
    return plain


async def create_user(
    settings: Settings, *, email: str, role: Role, password: str, name: str | None
) -> str:
    if "@" not in email:
        raise CommandError("--email must be an e-mail address")
    try:
        async with _database(settings) as db, db.transaction() as session:
            agent = await create_agent(
                session, email=email, role=role, password=password, name=name
            )
            return agent.id
    except IntegrityError as exc:
        raise CommandError(f"a user with e-mail {email.strip().lower()} already exists") from exc


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


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Run uvicorn on the app factory with these settings (one process: SQLite has one writer)."""
    from omnicrm.app import create_app

    # No access log: query strings carry phones and e-mails (customer search), never log them.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


async def run_worker(settings: Settings) -> None:
    """Run recovery polling, the partitions and the dispatcher until SIGINT/SIGTERM."""
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
