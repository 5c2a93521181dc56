"""The Slack bridge's moving parts and their lifetime: inbox loop, Socket Mode, file fetcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from channels.media import MediaFetcher, MediaSource
from handoff.slack.inbox import InboxConfig, run_inbox

log = logging.getLogger(__name__)


@dataclass
class SlackBridge:
    """What `mount_slack` built; `start`/`stop` run with the app's lifespan."""

    bolt: AsyncApp
    client: AsyncWebClient
    config: InboxConfig
    file_source: MediaSource
    max_file_bytes: int
    sync_seconds: float = 1.0
    app_token: str | None = None
    api_base: str = "https://slack.com/api/"
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    runtime: Any = None
    socket: Any = None  # AsyncSocketModeHandler while Socket Mode is on
    _fetcher: MediaFetcher | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def timezone(self) -> str:
        return self.config.timezone

    @property
    def channels(self) -> frozenset[str]:
        return self.config.routes.all_channels()

    def fetcher(self) -> MediaFetcher:
        if self._fetcher is None:
            self._fetcher = MediaFetcher(max_bytes=self.max_file_bytes)
        return self._fetcher

    async def start(self, runtime: Any) -> None:
        """Run the inbox loop; connect Socket Mode when an app-level token is configured."""
        self.runtime = runtime
        self.wake = asyncio.Event()
        inbox = run_inbox(
            runtime, self.client, self.config, interval_s=self.sync_seconds, wake=self.wake
        )
        self._tasks.append(asyncio.create_task(inbox, name="slack-inbox"))
        if self.app_token:
            from handoff.slack.socket import open_socket

            self.socket = open_socket(self)
            # connect() retries on its own until Slack answers; never block start-up on it.
            self._tasks.append(
                asyncio.create_task(self.socket.connect_async(), name="slack-socket")
            )
            log.info("slack socket mode on")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close_async()
            self.socket = None
        if self._fetcher is not None:
            await self._fetcher.close()
            self._fetcher = None
