"""Slack events and button clicks turned into ownership-service calls."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from crm_core.db import Database
from crm_core.models import ChannelState
from crm_core.types import utcnow
from handoff import service
from handoff.service import NOTE_PREFIX, HandoffError
from handoff.slack import card as cards
from handoff.slack import format as fmt
from handoff.slack.agents import actor_for, display_name
from handoff.slack.durations import snooze_until
from handoff.slack.files import fetch_files
from handoff.slack.threads import ThreadStore

if TYPE_CHECKING:
    from handoff.slack.bridge import SlackBridge

log = logging.getLogger(__name__)
ACTIONS = {
    cards.CLAIM: service.claim,
    cards.RESOLVE: service.resolve,
    cards.RETURN: service.return_to_bot,
    cards.UNSNOOZE: service.unsnooze,
}
RELAYED_SUBTYPES = (None, "file_share")  # an upload with a comment arrives as `file_share`


@dataclass(frozen=True)
class AgentMessage:
    """A human's reply inside one of our threads, as Slack sent it (still mrkdwn)."""

    event_id: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    files: tuple[dict[str, Any], ...] = ()


def agent_message(
    body: dict[str, Any], *, channels: Collection[str], bot_user_id: str | None
) -> AgentMessage | None:
    """Keep only human thread replies in an inbox channel; echoes and edits are None."""
    event = body.get("event") or {}
    if event.get("type") != "message" or event.get("hidden"):
        return None
    if event.get("subtype") not in RELAYED_SUBTYPES:
        return None  # message_changed, message_deleted, bot_message, channel_join, ...
    if event.get("bot_id") or event.get("app_id") or event.get("bot_profile"):
        return None  # our own posts come back without a subtype (channels.md §0.3)
    user, thread_ts, ts = event.get("user"), event.get("thread_ts"), event.get("ts")
    if not user or user == bot_user_id or not thread_ts or thread_ts == ts:
        return None
    files = tuple(f for f in event.get("files") or () if isinstance(f, dict))
    text = event.get("text")
    if event.get("channel") not in channels or not (isinstance(text, str) or files):
        return None
    return AgentMessage(
        event_id=str(body.get("event_id") or f"ts:{ts}"),
        channel=str(event["channel"]),
        thread_ts=str(thread_ts),
        ts=str(ts),
        user=str(user),
        text=text if isinstance(text, str) else "",
        files=files,
    )


async def first_sighting(db: Database, event_id: str) -> bool:
    """True once per event id: Slack retries the same event, the unique key says no twice."""
    key = f"event:{event_id}"[:64]
    async with db.transaction() as session:
        result = await session.execute(
            db.insert(ChannelState)
            .values(channel="slack", key=key, value={})
            .on_conflict_do_nothing()
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def on_message(bridge: SlackBridge, runtime: Any, message: AgentMessage) -> None:
    """Relay a thread reply (and its files) to the customer, or keep a `note:`, once."""
    client = bridge.client
    threads = ThreadStore(runtime.db)
    conversation_id = await threads.conversation_of(message.thread_ts, message.channel)
    if conversation_id is None:
        return
    if not await first_sighting(runtime.db, message.event_id):
        log.info("slack event %s seen before; ignored", message.event_id)
        return
    actor = await actor_for(runtime.db, client, message.user)
    names = {uid: await display_name(client, uid) for uid in fmt.mentioned_users(message.text)}
    text = fmt.unescape(message.text, names)
    attachments = await _attachments(bridge, runtime, message, note=_is_note(text))
    if not text and not attachments:
        return
    try:
        result = await service.reply(
            runtime.db,
            conversation_id,
            actor,
            text=text,
            attachments=attachments or None,
            source="slack",
        )
    except HandoffError as error:
        await _tell_thread(client, message, f":warning: not sent: {error.message}")
        return
    if not result.note:
        runtime.dispatcher.wake()
    bridge.wake.set()
    log.info(
        "slack reply %s on conversation %s (note=%s, files=%d)",
        message.ts,
        conversation_id,
        result.note,
        len(attachments),
    )


def _is_note(text: str) -> bool:
    return text.lower().startswith(NOTE_PREFIX)


async def _attachments(
    bridge: SlackBridge, runtime: Any, message: AgentMessage, *, note: bool
) -> list[dict[str, Any]]:
    """The reply's files, stored; a refused file is said in the thread and the text still goes."""
    if not message.files:
        return []
    if note:
        await _tell_thread(bridge.client, message, ":lock: files on a `note:` stay in Slack.")
        return []
    entries = [await _complete(bridge.client, entry) for entry in message.files]
    relayed = await fetch_files(
        runtime.db,
        bridge.fetcher(),
        bridge.file_source,
        entries,
        max_bytes=bridge.max_file_bytes,
    )
    for reason in relayed.refused:
        await _tell_thread(
            bridge.client, message, f":warning: file not sent: {fmt.escape(reason)}"
        )
    return relayed.attachments


async def _complete(client: AsyncWebClient, entry: dict[str, Any]) -> dict[str, Any]:
    """Slack may send only `{id, file_access: "check_file_info"}`: ask files.info for the rest."""
    if entry.get("url_private_download") or entry.get("url_private") or not entry.get("id"):
        return entry
    try:
        info = await client.files_info(file=str(entry["id"]))
    except SlackApiError as error:
        log.warning("files.info failed for %s: %s", entry["id"], error.response.get("error"))
        return entry
    return {**entry, **(info.get("file") or {})}


async def on_action(bridge: SlackBridge, runtime: Any, body: dict[str, Any]) -> None:
    """A card button or the snooze menu; the card is redrawn by the inbox's next pass."""
    action = (body.get("actions") or [{}])[0]
    action_id = action.get("action_id", "")
    user_id = (body.get("user") or {}).get("id")
    if not user_id:
        return
    actor = await actor_for(runtime.db, bridge.client, user_id)
    try:
        if action_id == cards.SNOOZE:
            value = str((action.get("selected_option") or {}).get("value") or "")
            conversation_id, _, spec = value.partition("|")
            until = snooze_until(spec, now=utcnow(), timezone=bridge.timezone)
            await service.snooze(runtime.db, conversation_id, actor, until=until)
        elif action_id in ACTIONS and action.get("value"):
            conversation_id = str(action["value"])
            await ACTIONS[action_id](runtime.db, conversation_id, actor)
        else:
            return
    except (HandoffError, ValueError) as error:
        text = error.message if isinstance(error, HandoffError) else str(error)
        channel = (body.get("channel") or {}).get("id")
        if channel:
            await bridge.client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        return
    runtime.dispatcher.wake()
    bridge.wake.set()
    log.info("slack %s on conversation %s by %s", action_id, conversation_id, user_id)


async def _tell_thread(client: AsyncWebClient, message: AgentMessage, text: str) -> None:
    await client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts, text=text)
