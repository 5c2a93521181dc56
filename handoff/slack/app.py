"""The Slack edge: a bolt AsyncApp (signature checks, url_verification, acks) on our routes."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from handoff.slack import events

log = logging.getLogger(__name__)
RUNTIME = "omnicrm_runtime"


def slack_configured(settings: Any) -> bool:
    """The inbox runs only with a bot token, a signing secret and an inbox channel."""
    return bool(
        settings.slack_bot_token and settings.slack_signing_secret and settings.slack_inbox_channel
    )


@dataclass
class SlackBridge:
    """What `mount_slack` built: the bolt app, its Web API client, and the inbox's wake-up."""

    bolt: AsyncApp
    client: AsyncWebClient
    inbox_channel: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)


def build_bolt_app(settings: Any) -> SlackBridge:
    """One AsyncApp per app instance, its client pointed at SLACK_API_BASE (a fake in tests)."""
    token = settings.slack_bot_token.get_secret_value()
    client = AsyncWebClient(token=token, base_url=settings.slack_api_base)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    bolt = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        request_verification_enabled=True,
        logger=logging.getLogger("handoff.slack.bolt"),
    )
    bridge = SlackBridge(bolt=bolt, client=client, inbox_channel=settings.slack_inbox_channel)
    _register(bridge)
    return bridge


def _register(bridge: SlackBridge) -> None:
    async def message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        found = events.agent_message(
            body, inbox_channel=bridge.inbox_channel, bot_user_id=context.bot_user_id
        )
        if found is not None:
            await events.on_message(context[RUNTIME], bridge.client, found)

    async def action(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        await events.on_action(context[RUNTIME], bridge.client, body)
        bridge.wake.set()

    bridge.bolt.event("message")(message)
    bridge.bolt.action(re.compile(r"^omnicrm_"))(action)


def mount_slack(app: FastAPI, settings: Any) -> SlackBridge:
    """Add the two webhooks; the runtime is read from `app.state.runtime` at each request."""
    bridge = build_bolt_app(settings)
    handler = AsyncSlackRequestHandler(bridge.bolt)

    async def receive(request: Request) -> Response:
        extra = {RUNTIME: request.app.state.runtime}
        return await handler.handle(request, addition_context_properties=extra)

    for path, name in (("events", "slack_events"), ("interactions", "slack_interactions")):
        app.add_api_route(
            f"/webhooks/slack/{path}",
            receive,
            methods=["POST"],
            name=name,
            include_in_schema=False,
        )
    app.state.slack = bridge
    return bridge
