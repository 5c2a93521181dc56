"""The FastAPI app factory (`uvicorn --factory omnicrm.app:create_app`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from channels.media import MediaFetcher
from channels.webchat import STATIC_DIR
from handoff.console.routes import STATIC_DIR as CONSOLE_STATIC
from handoff.console.routes import console_router
from handoff.console.sessions import SessionSigner
from handoff.slack import mount_slack, slack_configured
from omnicrm import __version__
from omnicrm.api import (
    admin,
    attachments,
    booking,
    conversation_actions,
    conversations,
    customers,
    errors,
    exports,
    faq,
    files,
    handoff_queue,
    merges,
    metrics_api,
    nlu,
    privacy,
    purchases,
    qa,
    services,
    system,
    tickets,
    webchat,
    webhooks,
)
from omnicrm.dead_letters import bus_dead_letters
from omnicrm.media import media_sources
from omnicrm.runtime import Runtime
from omnicrm.settings import Settings

log = logging.getLogger(__name__)
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build an app around one Runtime; nothing is created at import time."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings)
        app.state.runtime = runtime
        app.state.media_sources = media_sources(settings)
        app.state.media_fetcher = MediaFetcher(max_bytes=settings.media_max_bytes)
        await runtime.start()
        bridge = getattr(app.state, "slack", None)
        if bridge is not None:
            await bridge.start(runtime)  # the inbox loop, and Socket Mode with SLACK_APP_TOKEN
        try:
            yield
        finally:
            if bridge is not None:
                await bridge.stop()
            await runtime.stop()
            await app.state.media_fetcher.close()

    app = FastAPI(
        title="omnicrm",
        version=__version__,
        description="Omnichannel conversational CRM: REST API v1, webhooks and web chat.",
        lifespan=lifespan,
    )
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    for module in (
        privacy,  # data-subject export and erasure, admin only
        customers,
        exports,  # before conversations: /conversations/export is not /conversations/{id}
        qa,  # reviews and NLU corrections, supervisor and up
        conversations,
        conversation_actions,
        handoff_queue,
        attachments,
        merges,
        services,
        booking,
        purchases,
        nlu,
        tickets,
        faq,
        webchat,
        admin,
        metrics_api,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(webhooks.router)
    app.include_router(files.router)  # GET /files/{id}: signed links, no API key
    app.include_router(system.router)
    _mount_webchat_page(app, settings)
    _mount_console(app, settings)
    if slack_configured(settings):
        mount_slack(app, settings)  # sets app.state.slack; its routes read the runtime per request

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/webchat")

    return app


def _mount_webchat_page(app: FastAPI, settings: Settings) -> None:
    page = (STATIC_DIR / "webchat.html").read_text(encoding="utf-8")
    page = page.replace(
        'data-business-name="Omni CRM"', f'data-business-name="{_attr(settings.business_name)}"'
    )
    app.mount("/webchat/static", StaticFiles(directory=STATIC_DIR), name="webchat-static")

    @app.get("/webchat", include_in_schema=False)
    async def webchat_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})


def _mount_console(app: FastAPI, settings: Settings) -> None:
    secret = settings.secret("secret_key")
    if secret is None:
        log.warning("OMNICRM_SECRET_KEY is unset: console logins end when the process restarts")
    signer = SessionSigner(secret.encode() if secret else secrets.token_bytes(32))
    app.mount("/console/static", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    app.include_router(
        console_router(
            get_db=lambda request: request.app.state.runtime.db,
            signer=signer,
            secure_cookies=settings.public_url.startswith("https://"),
            on_reply=lambda request: request.app.state.runtime.dispatcher.wake(),
            get_dead_letters=lambda request: bus_dead_letters(request.app.state.runtime),
        )
    )


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )
