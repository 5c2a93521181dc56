"""Wiring of the IMAP poller: `omnicrm email poll` and the background task inside `serve`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from conversations import inbox
from conversations.status import apply_statuses
from crm_core.channel_state import ChannelStateStore

if TYPE_CHECKING:
    from omnicrm.runtime import Runtime

log = logging.getLogger(__name__)


def imap_configured(runtime: Runtime) -> bool:
    settings = runtime.settings
    return bool(
        "email" in runtime.adapters
        and settings.imap_host
        and settings.imap_username
        and settings.secret("imap_password")
    )


def build_poller(runtime: Runtime) -> Any:
    """The poller for the configured mailbox (imported lazily, like every vendor client)."""
    from channels.email_imap import ImapPoller

    settings = runtime.settings
    return ImapPoller(
        host=settings.imap_host or "",
        port=settings.imap_port,
        username=settings.imap_username or "",
        password=settings.secret("imap_password") or "",
        ssl=settings.imap_ssl,
        folder=settings.imap_folder,
        state=ChannelStateStore(runtime.db, "email"),
    )


async def poll_once(runtime: Runtime, poller: Any) -> int:
    """Fetch new mail, store it in the inbox (deduped on Message-ID), advance the cursor."""
    from channels.email_imap import poll_into

    async def receive(events: list[Any]) -> object:
        return await inbox.receive(runtime.db, runtime.bus, events)

    async def statuses(updates: list[Any]) -> object:
        return await apply_statuses(runtime.db, updates)  # bounces of our replies

    adapter = runtime.adapters["email"]
    return int(await poll_into(poller, adapter, receive, statuses=statuses))


async def poll_forever(runtime: Runtime) -> None:
    """Poll every IMAP_POLL_SECONDS; a failing mailbox is logged and retried, never fatal."""
    poller = build_poller(runtime)
    delay = runtime.settings.imap_poll_seconds
    while True:
        try:
            count = await poll_once(runtime, poller)
            if count:
                log.info("imap: stored %d new mails", count)
            delay = runtime.settings.imap_poll_seconds
        except Exception:
            log.exception("imap poll failed; retrying")
            delay = min(delay * 2, 600.0)
        await asyncio.sleep(delay)
