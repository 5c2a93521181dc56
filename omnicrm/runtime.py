"""Builds and runs one process's pieces: database, bus, adapters, engine, worker, dispatcher."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from channels.base import ChannelAdapter
from conversations.bot import FirstBot
from conversations.bus import Bus, InboxPollingBus, InProcessBus
from conversations.dispatcher import Dispatcher
from conversations.engine import ConversationEngine
from conversations.faq import FaqBook
from conversations.hours import BusinessHours
from conversations.metrics import EngineMetrics
from conversations.worker import Worker
from crm_core.db import Database
from crm_core.migrate import upgrade
from nlu import BuiltinNLU
from omnicrm.adapters import ALL_CHANNELS, build_adapters
from omnicrm.email_poll import imap_configured, poll_forever
from omnicrm.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a process holds; `start` launches the background tasks, `stop` ends them."""

    settings: Settings
    db: Database
    adapters: dict[str, ChannelAdapter]
    bus: Bus
    metrics: EngineMetrics
    engine: ConversationEngine
    worker: Worker
    dispatcher: Dispatcher
    nlu: BuiltinNLU
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        db = Database(settings.database_url)
        adapters = build_adapters(settings, db)
        metrics = EngineMetrics()
        bus: Bus = (
            InProcessBus(settings.worker_partitions)
            if settings.embedded_worker
            else InboxPollingBus()
        )
        nlu = BuiltinNLU()
        bot = FirstBot(nlu=nlu, faq=FaqBook.load(), business_name=settings.business_name)
        hours = BusinessHours.parse(settings.business_hours, timezone=settings.timezone)
        engine = ConversationEngine(db=db, bot=bot, region=settings.default_region, hours=hours)
        dispatcher = Dispatcher(
            db=db,
            adapters=adapters,
            metrics=metrics,
            max_attempts=settings.dispatch_max_attempts,
            poll_seconds=settings.dispatch_poll_seconds,
        )
        worker = Worker(db=db, bus=bus, engine=engine, metrics=metrics, on_replies=dispatcher.wake)
        return cls(settings, db, adapters, bus, metrics, engine, worker, dispatcher, nlu)

    def channel_states(self) -> dict[str, str]:
        states = {name: ("on" if name in self.adapters else "off") for name in ALL_CHANNELS}
        if self.settings.slack_bot_token and self.settings.slack_signing_secret:
            states["slack"] = "on" if self.settings.slack_inbox_channel else "off"
        return states

    async def start(self, *, poll_inbox: bool = False) -> None:
        """Migrate if asked, recover unfinished work, run the worker partitions and dispatcher."""
        if self.settings.auto_migrate:
            await upgrade(self.db.engine)
        for name, state in self.channel_states().items():
            log.info("channel %s is %s", name, state)
        if self.settings.nlu_backend != "builtin":
            log.warning(
                "NLU_BACKEND=rasa is not available in this version; using the built-in NLU"
            )
        if self.settings.redis_url:
            log.warning(
                "OMNICRM_REDIS_URL is set, but this version's bus is the database inbox; "
                "workers poll it (Redis Streams arrive with the scale-out work)"
            )
        if not self.settings.embedded_worker:
            return
        await self.worker.recover()
        for partition in range(self.bus.partitions):
            self._spawn(self.worker.run_partition(partition), f"worker-{partition}")
        self._spawn(self.dispatcher.run(), "dispatcher")
        if imap_configured(self):
            self._spawn(poll_forever(self), "imap-poll")
        if poll_inbox:
            self._spawn(self.worker.poll_inbox(self.settings.dispatch_poll_seconds), "inbox-poll")

    def _spawn(self, coro: object, name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))  # type: ignore[arg-type]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        pending = set(self.tasks)
        while pending:
            # A task that swallowed its cancellation is cancelled again, not awaited forever.
            _, pending = await asyncio.wait(pending, timeout=5.0)
            for task in pending:
                log.warning("task %s did not stop; cancelling it again", task.get_name())
                task.cancel()
        self.tasks.clear()
        for adapter in self.adapters.values():
            await adapter.close()
        await self.db.dispose()
