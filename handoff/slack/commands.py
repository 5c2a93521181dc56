"""`/omnicrm` slash commands: the queue and the card's actions, answered privately.

Slack wants an answer within 3 s; the answer normally is the ack itself (ephemeral). Should the
work take longer, the ack says so and the answer follows through the command's response_url.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from crm_core.models import Conversation
from crm_core.types import utcnow
from handoff import assignment, service
from handoff.queue import QueueItem, load_queue
from handoff.service import HandoffError
from handoff.slack import format as fmt
from handoff.slack.agents import actor_for, agent_of
from handoff.slack.durations import snooze_until

if TYPE_CHECKING:
    from handoff.slack.bridge import SlackBridge

log = logging.getLogger(__name__)
ACK_WITHIN_S = 2.0
MIN_PREFIX = 6
MAX_QUEUE_LINES = 25
_ID = re.compile(r"^[0-9a-f]{6,64}$")
HELP = """*`/omnicrm` commands* (answers only you can see)
• `queue`: conversations waiting for or owned by agents
• `claim ID` · `resolve ID` · `return ID`: the card's buttons (ID: the id or its first 6+ chars)
• `snooze ID 30m|2h|tomorrow`: park a conversation (no SLA ping until then)
• `available` · `away`: take new conversations, or stop
• `whoami`: which omnicrm agent you are"""
MOVES: dict[str, tuple[Callable[..., Awaitable[Any]], str]] = {
    "claim": (service.claim, ":raising_hand: you claimed"),
    "resolve": (service.resolve, ":white_check_mark: resolved"),
    "return": (service.return_to_bot, ":robot_face: returned to the bot:"),
}


class CommandError(Exception):
    """A command that cannot be done; the text goes back to the user as is."""


async def answer(
    bridge: SlackBridge, runtime: Any, payload: dict[str, Any], *, ack: Any, respond: Any
) -> None:
    """Ack within Slack's 3 s with the answer, or with a placeholder and respond later."""
    work = asyncio.ensure_future(run(bridge, runtime, payload))
    try:
        text = await asyncio.wait_for(asyncio.shield(work), ACK_WITHIN_S)
    except TimeoutError:
        await ack(text=":hourglass_flowing_sand: working on it…", response_type="ephemeral")
        await respond(text=await work, response_type="ephemeral")
        return
    await ack(text=text, response_type="ephemeral")


async def run(bridge: SlackBridge, runtime: Any, payload: dict[str, Any]) -> str:
    """The answer to one command line; every failure becomes a plain sentence."""
    user_id = str(payload.get("user_id") or "")
    words = str(payload.get("text") or "").split()
    verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
    try:
        return await _dispatch(bridge, runtime, user_id, verb, args)
    except CommandError as error:
        return f":warning: {error}"
    except HandoffError as error:
        return f":warning: {error.message}"
    except Exception:
        log.exception("slash command %s failed", verb)
        return ":warning: something went wrong; try again or use the console"


async def _dispatch(
    bridge: SlackBridge, runtime: Any, user_id: str, verb: str, args: list[str]
) -> str:
    if verb == "help":
        return HELP
    if verb == "queue":
        return _queue_text(await load_queue(runtime.db), timezone=bridge.timezone)
    if verb == "whoami":
        return await _whoami(bridge, runtime, user_id)
    if verb in ("available", "away"):
        agent, _ = await agent_of(runtime.db, bridge.client, user_id)
        if agent is None:
            raise CommandError(_unlinked(user_id))
        await assignment.set_availability(runtime.db, agent.id, available=verb == "available")
        bridge.wake.set()
        return f"You are now *{verb}*" + (
            ": new conversations may be assigned to you." if verb == "available" else "."
        )
    if verb in MOVES or verb == "snooze":
        return await _act(bridge, runtime, user_id, verb, args)
    raise CommandError(f"unknown command `{fmt.escape(verb)}`; try `/omnicrm help`")


async def _act(bridge: SlackBridge, runtime: Any, user_id: str, verb: str, args: list[str]) -> str:
    needed = 2 if verb == "snooze" else 1
    if len(args) != needed:
        usage = "snooze ID 30m|2h|tomorrow" if verb == "snooze" else f"{verb} ID"
        raise CommandError(f"usage: `/omnicrm {usage}`")
    conversation_id = await find_conversation(runtime.db, args[0])
    actor = await actor_for(runtime.db, bridge.client, user_id)
    short = f"`{conversation_id[:8]}`"
    if verb == "snooze":
        try:
            until = snooze_until(args[1], now=utcnow(), timezone=bridge.timezone)
        except ValueError as error:
            raise CommandError(str(error)) from None
        await service.snooze(runtime.db, conversation_id, actor, until=until)
        text = f":zzz: snoozed {short} until {fmt.local_time(until, bridge.timezone)}"
    else:
        move, said = MOVES[verb]
        await move(runtime.db, conversation_id, actor)
        text = f"{said} {short}"
    runtime.dispatcher.wake()
    bridge.wake.set()
    return text


async def find_conversation(db: Any, token: str) -> str:
    """The conversation a full id or an unambiguous prefix of 6+ characters names."""
    wanted = token.strip().lower()
    if not _ID.match(wanted):
        raise CommandError(f"`{fmt.escape(token)}` is not a conversation id (6+ hex characters)")
    async with db.reading() as session:
        found = (
            await session.scalars(
                select(Conversation.id).where(Conversation.id.startswith(wanted)).limit(2)
            )
        ).all()
    if not found:
        raise CommandError(f"no conversation starts with `{wanted}`")
    if len(found) > 1:
        raise CommandError(f"`{wanted}` matches several conversations; give more characters")
    return str(found[0])


async def _whoami(bridge: SlackBridge, runtime: Any, user_id: str) -> str:
    agent, _ = await agent_of(runtime.db, bridge.client, user_id)
    if agent is None:
        return _unlinked(user_id)
    how = "your Slack user id" if agent.slack_user_id == user_id else "your e-mail"
    duty = "available" if agent.available else "away"
    return (
        f"You act as agent *{fmt.escape(agent.name or agent.email)}* "
        f"({fmt.escape(agent.email)}, {agent.role}, {duty}), matched by {how}."
    )


def _unlinked(user_id: str) -> str:
    return (
        f"<@{user_id}> is not linked to any omnicrm agent: an admin can set your Slack user id "
        "on your agent, or use the same e-mail in Slack and omnicrm."
    )


def _queue_text(items: list[QueueItem], *, timezone: str, now: datetime | None = None) -> str:
    if not items:
        return ":tada: nobody is waiting."
    moment = now or utcnow()
    lines = [_queue_line(item, timezone=timezone, now=moment) for item in items]
    more = len(lines) - MAX_QUEUE_LINES
    shown = lines[:MAX_QUEUE_LINES] + ([f"_…and {more} more_"] if more > 0 else [])
    waiting = sum(1 for item in items if item.status == "waiting_agent")
    return f"*Queue*: {waiting} waiting, {len(items) - waiting} with agents\n" + "\n".join(shown)


def _queue_line(item: QueueItem, *, timezone: str, now: datetime) -> str:
    waited = fmt.minutes((now - item.waiting_since).total_seconds())
    parts = [
        f"`{item.conversation_id[:8]}` *{fmt.escape(item.customer_name)}*",
        item.channel,
        f"waiting {waited} min",
    ]
    if item.breached:
        parts.append(":rotating_light: SLA breached")
    elif item.first_response_due is not None and item.first_response_at is None:
        parts.append(f"SLA due {fmt.local_time(item.first_response_due, timezone, now=now)}")
    if item.status == "agent":
        parts.append(f"with {fmt.escape(item.assigned_agent_name or 'an agent')}")
    if item.snoozed_until is not None:
        parts.append(f":zzz: until {fmt.local_time(item.snoozed_until, timezone, now=now)}")
    return " · ".join(parts)
