"""Socket Mode: the same bolt app fed over Slack's WebSocket instead of our public webhooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

if TYPE_CHECKING:
    from handoff.slack.bridge import SlackBridge

log = logging.getLogger(__name__)


def open_socket(bridge: SlackBridge) -> AsyncSocketModeHandler:
    """A handler whose `apps.connections.open` goes to SLACK_API_BASE with the `xapp-` token."""
    assert bridge.app_token is not None
    web = AsyncWebClient(base_url=bridge.api_base)  # the app token is sent per call, not this
    return AsyncSocketModeHandler(
        bridge.bolt,
        bridge.app_token,
        logger=logging.getLogger("handoff.slack.socket"),
        web_client=web,
    )
