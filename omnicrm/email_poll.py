"""Wiring of the IMAP poller: `omnicrm email poll` and the background task inside `serve`."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from conversations import inbox
from conversations.status import apply_statuses
from crm_core.channel_state import ChannelStateStore

if TYPE_CHECKING:
    from omnicrm.runtime import Runtime


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


async def _receive(runtime: Runtime, events: list[Any]) -> object:
    return await inbox.receive(runtime.db, runtime.bus, events)


async def _statuses(runtime: Runtime, updates: list[Any]) -> object:
    return await apply_statuses(runtime.db, updates)  # bounces of our replies


async def poll_once(runtime: Runtime, poller: Any) -> int:
    """Fetch new mail, store it in the inbox (deduped on Message-ID), advance the cursor."""
    from channels.email_imap import poll_into

    return int(
        await poll_into(
            poller,
            runtime.adapters["email"],
            partial(_receive, runtime),
            statuses=partial(_statuses, runtime),
        )
    )


async def poll_forever(runtime: Runtime) -> None:
    """The poller's own loop (it backs off on a failing mailbox and never gives up)."""
    from channels.email_imap import deliver_mails

    deliver = partial(
        deliver_mails,
        adapter=runtime.adapters["email"],
        receive=partial(_receive, runtime),
        statuses=partial(_statuses, runtime),
    )
    await build_poller(runtime).run(runtime.settings.imap_poll_seconds, deliver)
