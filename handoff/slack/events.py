"""Slack events and button clicks turned into ownership-service calls."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from crm_core.db import Database
from crm_core.models import Agent, ChannelState
from handoff import service
from handoff.service import Actor, HandoffError
from handoff.slack import format as fmt
from handoff.slack.inbox import ThreadStore, load_card

log = logging.getLogger(__name__)
ACTIONS = {
    fmt.CLAIM: service.claim,
    fmt.RESOLVE: service.resolve,
    fmt.RETURN: service.return_to_bot,
}


@dataclass(frozen=True)
class AgentMessage:
    """A human's reply inside one of our threads, as Slack sent it (still mrkdwn)."""

    event_id: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str


def agent_message(
    body: dict[str, Any], *, inbox_channel: str, bot_user_id: str | None
) -> AgentMessage | None:
    """Keep only plain human thread replies in the inbox channel; echoes and edits are None."""
    event = body.get("event") or {}
    if event.get("type") != "message" or event.get("subtype") or event.get("hidden"):
        return None  # message_changed, message_deleted, bot_message, channel_join, ...
    if event.get("bot_id") or event.get("app_id") or event.get("bot_profile"):
        return None  # our own posts come back without a subtype (channels.md §0.3)
    user, thread_ts, ts = event.get("user"), event.get("thread_ts"), event.get("ts")
    if not user or user == bot_user_id or not thread_ts or thread_ts == ts:
        return None
    if event.get("channel") != inbox_channel or not isinstance(event.get("text"), str):
        return None
    return AgentMessage(
        event_id=str(body.get("event_id") or f"ts:{ts}"),
        channel=str(event["channel"]),
        thread_ts=str(thread_ts),
        ts=str(ts),
        user=str(user),
        text=event["text"],
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


async def actor_for(db: Database, client: AsyncWebClient, user_id: str) -> Actor:
    """The console agent with the Slack user's e-mail, else the Slack user by name."""
    try:
        info = await client.users_info(user=user_id)
    except SlackApiError as error:
        log.warning("users.info failed for %s: %s", user_id, error.response.get("error"))
        return Actor(type="slack", id=user_id)
    user = info.get("user") or {}
    profile = user.get("profile") or {}
    name = user.get("real_name") or profile.get("real_name") or user.get("name")
    email = (profile.get("email") or "").strip().lower()
    if email:
        async with db.reading() as session:
            agent = await session.scalar(
                select(Agent).where(func.lower(Agent.email) == email, Agent.active.is_(True))
            )
        if agent is not None:
            return Actor(type="agent", id=agent.id, name=agent.name, agent_id=agent.id)
    return Actor(type="slack", id=user_id, name=name)


async def on_message(runtime: Any, client: AsyncWebClient, message: AgentMessage) -> None:
    """Relay a thread reply to the customer (or keep a `note:`), once per Slack event."""
    threads = ThreadStore(runtime.db)
    conversation_id = await threads.conversation_of(message.thread_ts)
    if conversation_id is None:
        return
    if not await first_sighting(runtime.db, message.event_id):
        log.info("slack event %s seen before; ignored", message.event_id)
        return
    actor = await actor_for(runtime.db, client, message.user)
    names = {uid: await _name_of(client, uid) for uid in fmt.mentioned_users(message.text)}
    text = fmt.unescape(message.text, names)
    try:
        result = await service.reply(runtime.db, conversation_id, actor, text=text)
    except HandoffError as error:
        await _tell_thread(client, message, f":warning: not sent: {error.message}")
        return
    if not result.note:
        runtime.dispatcher.wake()
    log.info(
        "slack reply %s on conversation %s (note=%s)", message.ts, conversation_id, result.note
    )


async def on_action(runtime: Any, client: AsyncWebClient, body: dict[str, Any]) -> None:
    """A card button: claim, resolve or return to the bot, then redraw the card."""
    action = (body.get("actions") or [{}])[0]
    run = ACTIONS.get(action.get("action_id", ""))
    conversation_id = action.get("value")
    user_id = (body.get("user") or {}).get("id")
    if run is None or not conversation_id or not user_id:
        return
    actor = await actor_for(runtime.db, client, user_id)
    try:
        conversation = await run(runtime.db, conversation_id, actor)
    except HandoffError as error:
        channel = (body.get("channel") or {}).get("id")
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user_id, text=error.message)
        return
    runtime.dispatcher.wake()
    log.info("slack %s on conversation %s by %s", action["action_id"], conversation_id, user_id)
    await _redraw(runtime.db, client, body, conversation.status, actor.name or user_id)


async def _redraw(
    db: Database, client: AsyncWebClient, body: dict[str, Any], status: str, owner: str
) -> None:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if not channel or not ts:
        return
    conversation_id = body["actions"][0]["value"]
    card = await load_card(db, conversation_id)
    await client.chat_update(
        channel=channel,
        ts=ts,
        text=f"{fmt.card_text(card)} — {fmt.status_line(status, owner)}",
        blocks=fmt.card_blocks(card, status=status, owner=owner),
    )


async def _name_of(client: AsyncWebClient, user_id: str) -> str:
    try:
        info = await client.users_info(user=user_id)
    except SlackApiError:
        return ""
    user = info.get("user") or {}
    return str(user.get("real_name") or user.get("name") or "")


async def _tell_thread(client: AsyncWebClient, message: AgentMessage, text: str) -> None:
    await client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts, text=text)
