"""Builds and runs one process's pieces: database, bus, adapters, engine, worker, dispatcher."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from channels.base import ChannelAdapter
from channels.file_links import FileLinks
from conversations.bot import FirstBot
from conversations.bus import Bus, InboxPollingBus, InProcessBus
from conversations.dispatcher import Dispatcher
from conversations.engine import ConversationEngine
from conversations.faq_store import FaqKnowledge
from conversations.flows.base import FlowRules
from conversations.flows.runner import FlowRunner
from conversations.hours import BusinessHours
from conversations.metrics import EngineMetrics
from conversations.redis_bus import RedisBus, connect
from conversations.redis_consumer import StreamConsumer, relay_forever
from conversations.worker import Worker
from crm_core.automation import AutomationRules, run_forever
from crm_core.booking.rules import BookingRules
from crm_core.db import Database
from crm_core.migrate import upgrade
from crm_core.tickets import parse_sla_hours
from handoff.assignment import parse_skill_map
from handoff.scheduler import HandoffPolicy, HandoffScheduler, Tick, configure_queue
from nlu import BuiltinNLU
from nlu.backend import NluBackend, build_nlu
from nlu.entities import EntityExtractor
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
    nlu: NluBackend
    handoff: HandoffScheduler
    faq: FaqKnowledge
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consumer: StreamConsumer | None = None  # the Redis Streams consumer, in a worker process

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        db = Database(settings.database_url)
        adapters = build_adapters(settings, db)
        metrics = EngineMetrics()
        bus = build_bus(settings)
        entities = EntityExtractor(settings.timezone, settings.default_region)
        builtin = BuiltinNLU(entities=entities, default_language=settings.default_language)
        nlu = build_nlu(
            backend=settings.nlu_backend,
            rasa_url=settings.rasa_url,
            timeout_s=settings.rasa_timeout_seconds,
            builtin=builtin,
            entities=entities,
        )
        faq = FaqKnowledge(db)  # faq.book follows the faq_entries table (see start)
        bot = FirstBot(nlu=builtin, faq=faq.book, business_name=settings.business_name)
        hours = BusinessHours.parse(settings.business_hours, timezone=settings.timezone)
        engine = ConversationEngine(
            db=db,
            bot=bot,
            region=settings.default_region,
            hours=hours,
            skill_map=parse_skill_map(settings.handoff_skill_map),
            flows=FlowRunner(rules=flow_rules(settings), nlu=builtin),
        )
        dispatcher = Dispatcher(
            db=db,
            adapters=adapters,
            metrics=metrics,
            max_attempts=settings.dispatch_max_attempts,
            poll_seconds=settings.dispatch_poll_seconds,
            file_links=FileLinks.for_deployment(
                secret_key=settings.secret("secret_key"), public_url=settings.public_url
            ),
        )
        worker = Worker(
            db=db, bus=bus, engine=engine, metrics=metrics, on_replies=dispatcher.wake, nlu=nlu
        )
        policy = handoff_policy(settings)
        configure_queue(policy)
        handoff = HandoffScheduler(db, policy)
        return cls(
            settings, db, adapters, bus, metrics, engine, worker, dispatcher, nlu, handoff, faq
        )

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
        log.info("NLU backend: %s", self.nlu.status())
        log.info("bus: %s", self.bus.kind)
        await self._load_faq()
        if not self.settings.embedded_worker:
            return
        if isinstance(self.bus, RedisBus):
            self._start_stream_consumer(self.bus)
        else:
            await self.worker.recover()
            for partition in range(self.bus.partitions):
                self._spawn(self.worker.run_partition(partition), f"worker-{partition}")
        self._spawn(self.dispatcher.run(), "dispatcher")
        self._spawn(self.faq.run(), "faq-refresh")
        self._spawn(
            self.handoff.run(self.settings.handoff_tick_seconds, on_change=self._count_handoff),
            "handoff-clock",
        )
        self._spawn(
            run_forever(
                self.db,
                AutomationRules.from_settings(self.settings, channels=self.adapters),
                tick_seconds=self.settings.automation_tick_seconds,
                on_queued=self.dispatcher.wake,
            ),
            "automation",
        )
        if imap_configured(self):
            self._spawn(poll_forever(self), "imap-poll")
        if poll_inbox and not isinstance(self.bus, RedisBus):
            self._spawn(self.worker.poll_inbox(self.settings.dispatch_poll_seconds), "inbox-poll")

    def _start_stream_consumer(self, bus: RedisBus) -> None:
        """Consume the streams this process holds leases for, and relay the outbox."""
        settings = self.settings
        self.consumer = StreamConsumer(
            bus,
            handle=self.worker.process_once,
            give_up=self.worker.give_up,
            lease_seconds=settings.bus_lease_seconds,
            claim_idle_seconds=settings.bus_claim_idle_seconds,
            max_deliveries=settings.bus_max_deliveries,
            retry_delay_seconds=settings.bus_retry_seconds,
            transient=(OperationalError, InterfaceError, OSError, TimeoutError),
        )
        self._spawn(self.consumer.run(), "bus-consumer")
        self._spawn(
            relay_forever(
                self.db,
                bus,
                interval_seconds=settings.outbox_relay_seconds,
                unpublished_after=timedelta(seconds=settings.outbox_relay_seconds),
                republish_after=timedelta(seconds=settings.outbox_republish_seconds),
            ),
            "outbox-relay",
        )

    async def _load_faq(self) -> None:
        """Seed an empty knowledge base from the shipped faq.yml, then load it for the bot."""
        try:
            if await self.faq.seed_if_empty():
                log.info("FAQ knowledge base seeded from the shipped faq.yml")
            await self.faq.refresh()
        except SQLAlchemyError:
            log.warning("FAQ knowledge base unavailable; the bot uses the shipped faq.yml")

    def _count_handoff(self, tick: Tick) -> None:
        for action, done in (
            ("assigned", tick.assigned),
            ("requeued", tick.requeued),
            ("sla_breached", tick.breached),
            ("snooze_ended", tick.woken),
        ):
            if done:
                self.metrics.handoff.labels(action=action).inc(len(done))

    def _spawn(self, coro: object, name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))  # type: ignore[arg-type]

    async def stop(self) -> None:
        if self.consumer is not None:
            # Finish the entries in hand and release the leases before anything is cancelled.
            try:
                await asyncio.wait_for(self.consumer.stop(), timeout=30.0)
            except TimeoutError:
                log.warning("the bus consumer did not stop in time; its entries will be claimed")
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
        try:
            await self.dispatcher.release()  # unfinished sends go to another worker now
        except (SQLAlchemyError, OSError, TimeoutError):  # the database may be the reason we stop
            log.warning("could not release claimed sends; they are retried when the lease ends")
        for adapter in self.adapters.values():
            await adapter.close()
        await self.nlu.aclose()
        if isinstance(self.bus, RedisBus):
            await self.bus.client.aclose()
        await self.db.dispose()


def build_bus(settings: Settings) -> Bus:
    """Redis Streams when REDIS_URL is set; else in-process queues, or none without a worker."""
    if settings.redis_url:
        return RedisBus(
            connect(settings.redis_url),
            partitions=settings.worker_partitions,
            prefix=settings.redis_prefix,
            maxlen=settings.redis_stream_maxlen,
        )
    if settings.embedded_worker:
        return InProcessBus(settings.worker_partitions)
    return InboxPollingBus()


def flow_rules(settings: Settings) -> FlowRules:
    """The dialogues' booking calendar, timeout and ticket SLA, from settings."""
    return FlowRules(
        booking=BookingRules.from_settings(settings),
        booking_hours=settings.booking_hours,
        flow_timeout=timedelta(minutes=settings.flow_timeout_minutes),
        region=settings.default_region,
        business_name=settings.business_name,
        sla_hours=parse_sla_hours(settings.ticket_sla_hours),
    )


def handoff_policy(settings: Settings) -> HandoffPolicy:
    """Minutes from settings; 0 switches a rule off."""

    def minutes(value: float) -> timedelta | None:
        return timedelta(minutes=value) if value > 0 else None

    return HandoffPolicy(
        requeue_after=minutes(settings.handoff_requeue_minutes),
        first_response=minutes(settings.sla_first_response_minutes),
        auto_assign=settings.handoff_auto_assign,
        capacity=settings.handoff_agent_capacity,
    )
