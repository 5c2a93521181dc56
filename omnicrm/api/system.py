"""Operational endpoints: `/healthz` (database, bus, channels) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from omnicrm import __version__
from omnicrm.api.deps import RuntimeDep

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers, 503 otherwise; always lists every channel on/off."""
    database_ok = await runtime.db.ping()
    body = {
        "status": "ok" if database_ok else "degraded",
        "version": __version__,
        "database": {"ok": database_ok, "dialect": runtime.db.dialect},
        "bus": {"kind": runtime.bus.kind, "depth": runtime.bus.depth()},
        "worker": "embedded" if runtime.tasks else "off",
        "channels": runtime.channel_states(),
        "nlu": runtime.nlu.status(),  # {"backend", "status": builtin | rasa | fallback, ...}
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep) -> Response:
    runtime.metrics.bus_depth.set(runtime.bus.depth())
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
