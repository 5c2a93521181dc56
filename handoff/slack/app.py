"""The Slack edge: a bolt AsyncApp (signature checks, url_verification, acks) on our routes."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from handoff.slack import commands, events
from handoff.slack.bridge import SlackBridge
from handoff.slack.files import slack_media_source
from handoff.slack.inbox import InboxConfig
from handoff.slack.routing import parse_routes

log = logging.getLogger(__name__)
RUNTIME = "omnicrm_runtime"
COMMAND = "/omnicrm"


def slack_configured(settings: Any) -> bool:
    """The inbox runs only with a bot token, a signing secret and an inbox channel."""
    return bool(
        settings.slack_bot_token and settings.slack_signing_secret and settings.slack_inbox_channel
    )


def build_bridge(settings: Any) -> SlackBridge:
    """One AsyncApp per app instance, its client pointed at SLACK_API_BASE (a fake in tests).

    A malformed OMNICRM_SLACK_ROUTES is a ValueError here, at start-up.
    """
    token = settings.slack_bot_token.get_secret_value()
    client = AsyncWebClient(token=token, base_url=settings.slack_api_base)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    bolt = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        request_verification_enabled=True,
        logger=logging.getLogger("handoff.slack.bolt"),
    )
    config = InboxConfig(
        routes=parse_routes(settings.slack_routes, default=settings.slack_inbox_channel),
        timezone=settings.timezone,
        mask_contacts=settings.slack_mask_contacts,
        escalation_mention=settings.slack_escalation_mention,
    )
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    bridge = SlackBridge(
        bolt=bolt,
        client=client,
        config=config,
        file_source=slack_media_source(token=token, api_base=settings.slack_api_base),
        max_file_bytes=settings.media_max_bytes,
        sync_seconds=settings.slack_sync_seconds,
        app_token=app_token or None,
        api_base=settings.slack_api_base,
    )
    _register(bridge)
    return bridge


def _register(bridge: SlackBridge) -> None:
    def runtime_of(context: AsyncBoltContext) -> Any:
        # Webhooks pass the app's runtime per request; Socket Mode has only the bridge's.
        return context.get(RUNTIME) or bridge.runtime

    async def message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        found = events.agent_message(
            body, channels=bridge.channels, bot_user_id=context.bot_user_id
        )
        if found is not None:
            await events.on_message(bridge, runtime_of(context), found)

    async def action(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        await events.on_action(bridge, runtime_of(context), body)

    async def command(
        ack: AsyncAck, command: dict[str, Any], respond: Any, context: AsyncBoltContext
    ) -> None:
        await commands.answer(bridge, runtime_of(context), command, ack=ack, respond=respond)

    bridge.bolt.event("message")(message)
    bridge.bolt.action(re.compile(r"^omnicrm_"))(action)
    bridge.bolt.command(COMMAND)(command)


def mount_slack(app: FastAPI, settings: Any) -> SlackBridge:
    """Add the two webhooks (slash commands post to the events one); sets `app.state.slack`."""
    bridge = build_bridge(settings)
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
