"""`POST /webhooks/<channel>`: verify, parse, persist in the inbox, then answer 200."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from channels.base import WebhookRejected
from conversations import inbox
from omnicrm.api.body import read_capped
from omnicrm.api.deps import RuntimeDep
from omnicrm.api.errors import ApiError

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)


@router.post("/telegram")
async def telegram_webhook(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Telegram Update; the secret-token header is checked before anything is read."""
    return await _receive("telegram", request, runtime)


async def _receive(channel: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    adapter = runtime.adapters.get(channel)
    if adapter is None:
        raise ApiError(404, "channel_off", f"the {channel} channel is not configured")
    metrics = runtime.metrics.inbound
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        # Signatures (Slack, Zalo, e-mail) cover the raw bytes: read them, capped, then verify.
        body = await read_capped(request, runtime.settings.max_webhook_body_bytes)
        adapter.verify(headers=headers, body=body, url=str(request.url))
        parsed = adapter.parse(body)
    except WebhookRejected:
        metrics.labels(channel=channel, result="rejected").inc()
        raise
    if not parsed.events:
        metrics.labels(channel=channel, result="ignored").inc()
        return JSONResponse({"ok": True, "ignored": parsed.ignored})
    try:
        stored = await inbox.receive(runtime.db, runtime.bus, parsed.events)
    except Exception as exc:
        # Never 200 without a committed row: the channel will retry a 503.
        log.exception("could not store %s webhook", channel)
        raise ApiError(503, "unavailable", "could not store the event; retry later") from exc
    duplicates = len(parsed.events) - len(stored)
    if stored:
        metrics.labels(channel=channel, result="stored").inc(len(stored))
    if duplicates:
        metrics.labels(channel=channel, result="duplicate").inc(duplicates)
    return JSONResponse({"ok": True, "stored": len(stored), "duplicates": duplicates})
