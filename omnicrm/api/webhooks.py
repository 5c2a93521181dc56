"""`POST /webhooks/<channel>`: verify, parse, persist in the inbox, then answer 200."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from channels.base import WebhookAck, WebhookRejected
from conversations import inbox
from conversations.status import apply_statuses
from omnicrm.api.body import read_capped
from omnicrm.api.deps import RuntimeDep
from omnicrm.api.errors import ApiError, error_body

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)

STORE_TIMEOUT_SECONDS = 10.0  # storing an event normally takes milliseconds
RETRY_AFTER_SECONDS = 5


@router.post("/telegram")
async def telegram_webhook(request: Request, runtime: RuntimeDep) -> Response:
    """Telegram Update, proven by the X-Telegram-Bot-Api-Secret-Token header."""
    return await _receive("telegram", request, runtime)


@router.post("/zalo")
async def zalo_webhook(request: Request, runtime: RuntimeDep) -> Response:
    """Zalo OA event, proven by X-ZEvent-Signature over the raw body."""
    return await _receive("zalo", request, runtime)


@router.post("/twilio/sms")
async def twilio_sms_webhook(request: Request, runtime: RuntimeDep) -> Response:
    """Inbound SMS/MMS form post, proven by X-Twilio-Signature; answered with empty TwiML."""
    return await _receive("sms", request, runtime)


@router.post("/twilio/status")
async def twilio_status_webhook(request: Request, runtime: RuntimeDep) -> Response:
    """Twilio status callback for one of our messages (queued → sent → delivered/failed)."""
    return await _receive("sms", request, runtime)


@router.post("/email")
async def email_webhook(request: Request, runtime: RuntimeDep) -> Response:
    """A raw RFC 5322 message, proven by X-Omnicrm-Signature (HMAC-SHA256 of the body)."""
    return await _receive("email", request, runtime)


def public_url(request: Request, base: str) -> str:
    """The URL the provider called, rebuilt from PUBLIC_URL (what Twilio signs, behind proxies)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return base.rstrip("/") + request.url.path + query


async def _receive(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    adapter = runtime.adapters.get(channel)
    if adapter is None:
        raise ApiError(404, "channel_off", f"the {channel} channel is not configured")
    metrics = runtime.metrics.inbound
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        # Signatures (Slack, Zalo, e-mail) cover the raw bytes: read them, capped, then verify.
        settings = runtime.settings
        limit = settings.email_max_bytes if channel == "email" else settings.max_webhook_body_bytes
        body = await read_capped(request, limit)
        url = public_url(request, runtime.settings.public_url)
        adapter.verify(headers=headers, body=body, url=url)
        parsed = adapter.parse(body)
    except WebhookRejected:
        metrics.labels(channel=channel, result="rejected").inc()
        raise
    ack: WebhookAck | None = getattr(adapter, "ack", None)
    try:
        # Bounded: a database that does not answer (a stalled connect) must not hold the
        # channel's request open; it gets a 503 and retries.
        async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
            updated = await apply_statuses(runtime.db, parsed.statuses)
            stored = await inbox.receive(runtime.db, runtime.bus, parsed.events)
    except Exception:
        # Never 200 without a committed row: the channel will retry a 503.
        log.exception("could not store %s webhook", channel)
        return JSONResponse(
            error_body("unavailable", "could not store the event; retry later"),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if parsed.statuses:
        metrics.labels(channel=channel, result="status").inc(len(parsed.statuses))
    if not parsed.events:
        if not parsed.statuses:
            metrics.labels(channel=channel, result="ignored").inc()
        if ack is not None:
            return Response(ack.body, media_type=ack.media_type)
        return JSONResponse({"ok": True, "ignored": parsed.ignored, "statuses": updated})
    duplicates = len(parsed.events) - len(stored)
    if stored:
        metrics.labels(channel=channel, result="stored").inc(len(stored))
    if duplicates:
        metrics.labels(channel=channel, result="duplicate").inc(duplicates)
    if ack is not None:
        return Response(ack.body, media_type=ack.media_type)
    return JSONResponse({"ok": True, "stored": len(stored), "duplicates": duplicates})
