"""Prometheus metrics of the engine, kept in a registry per app (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EngineMetrics:
    """Counters and histograms the engine updates; `/metrics` renders `registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "omnicrm_inbound_events_total",
            "Webhook events by channel and result (stored, duplicate, ignored, rejected)",
            ["channel", "result"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "omnicrm_outbound_messages_total",
            "Outbound send attempts by channel and outcome",
            ["channel", "status"],
            registry=self.registry,
        )
        self.processing = Histogram(
            "omnicrm_event_processing_seconds",
            "Time to process one inbound event (identify, log, bot, outbox)",
            registry=self.registry,
        )
        self.processing_failures = Counter(
            "omnicrm_event_processing_failures_total",
            "Inbound events whose processing raised",
            registry=self.registry,
        )
        self.bus_depth = Gauge(
            "omnicrm_bus_depth", "Events waiting on the bus", registry=self.registry
        )
        self.handoff = Counter(
            "omnicrm_handoff_actions_total",
            "What the handoff clock did: assigned, requeued, sla_breached, snooze_ended",
            ["action"],
            registry=self.registry,
        )
        # The Redis Streams bus (set on each /metrics scrape; absent numbers stay 0).
        self.bus_stream_length = Gauge(
            "omnicrm_bus_stream_length",
            "Entries in each partition's stream (trimmed with MAXLEN ~)",
            ["partition"],
            registry=self.registry,
        )
        self.bus_pending = Gauge(
            "omnicrm_bus_pending",
            "Entries delivered to a worker and not yet acknowledged, per partition",
            ["partition"],
            registry=self.registry,
        )
        self.bus_dead_letters = Gauge(
            "omnicrm_bus_dead_letters",
            "Entries in the dead-letter stream (see `omnicrm dlq list`)",
            registry=self.registry,
        )
