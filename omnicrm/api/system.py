"""Operational endpoints: `/healthz` (database, bus, channels) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from conversations.metrics import EngineMetrics
from conversations.redis_bus import RedisBus
from omnicrm import __version__
from omnicrm.api.deps import RuntimeDep

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers, 503 otherwise; always lists every channel on/off."""
    database_ok = await runtime.db.ping()
    bus = await runtime.bus.status()  # with Redis: "ok" (reachable), pending, dead_letters
    body = {
        "status": "ok" if database_ok and bus.get("ok", True) else "degraded",
        "version": __version__,
        "database": {"ok": database_ok, "dialect": runtime.db.dialect},
        "bus": bus,
        "worker": "embedded" if runtime.tasks else "off",
        "channels": runtime.channel_states(),
        "nlu": runtime.nlu.status(),  # {"backend", "status": builtin | rasa | fallback, ...}
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep) -> Response:
    if isinstance(runtime.bus, RedisBus):
        await _bus_gauges(runtime.metrics, runtime.bus)
    runtime.metrics.bus_depth.set(runtime.bus.depth())
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _bus_gauges(metrics: EngineMetrics, bus: RedisBus) -> None:
    """Stream lengths, pending entries and dead letters; an unreachable Redis leaves them."""
    try:
        stats = await bus.stats()
    except (RedisError, OSError):
        return
    for partition, length in stats["lengths"].items():
        metrics.bus_stream_length.labels(partition=str(partition)).set(length)
    for partition, pending in stats["pending"].items():
        metrics.bus_pending.labels(partition=str(partition)).set(pending)
    metrics.bus_dead_letters.set(stats["dead"])
