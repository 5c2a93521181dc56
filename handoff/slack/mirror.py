"""What the thread shows of a conversation: messages and timeline events as short lines.

Everything reaches the thread except what came from Slack itself (replies carry
`meta.source == "slack"`, notes `data.source == "slack"`), so nothing is echoed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Agent, Conversation, Message, TimelineEvent
from handoff.slack.card import CardState
from handoff.slack.format import escape, local_time, minutes

SLACK = "slack"
WAKE_REASONS = {
    "customer_message": "the customer wrote",
    "customer": "the customer wrote",
    "agent_reply": "an agent replied",
    "expired": "time is up",
    "due": "time is up",
}


@dataclass(frozen=True)
class Style:
    """Process settings the lines depend on."""

    timezone: str
    escalation_mention: str


async def label(session: AsyncSession, event: TimelineEvent | None) -> str:
    """Who did it, as mrkdwn: a known name, a Slack mention, or the kind of actor."""
    if event is None:
        return "someone"
    data = event.data or {}
    name = data.get("actor_name")
    if name:
        return escape(str(name))
    if event.actor_type == "agent" and event.actor_id:
        agent = await session.get(Agent, event.actor_id)
        if agent is not None:
            return escape(agent.name or agent.email)
    if event.actor_type == SLACK and event.actor_id:
        return f"<@{event.actor_id}>"
    return {"system": "the system", "customer": "the customer"}.get(
        event.actor_type, f"the {escape(event.actor_type)}"
    )


async def card_state(session: AsyncSession, conversation: Conversation) -> CardState:
    """The card's status line: who owns it (or closed or returned it) and any snooze."""
    status = conversation.status
    owner: str | None = None
    if status == "agent" and conversation.assigned_agent_id:
        agent = await session.get(Agent, conversation.assigned_agent_id)
        owner = escape(agent.name or agent.email) if agent is not None else None
    if owner is None and status in ("agent", "resolved", "bot"):
        owner = await label(session, await _last_move_to(session, conversation.id, status))
    return CardState(status=status, owner=owner, snoozed_until=conversation.snoozed_until)


async def _last_move_to(
    session: AsyncSession, conversation_id: str, status: str
) -> TimelineEvent | None:
    kinds = ("claimed", "status_changed") if status == "agent" else ("status_changed",)
    events = await session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind.in_(kinds))
        .order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc())
        .limit(20)
    )
    return next((e for e in events if (e.data or {}).get("to") == status), None)


def message_line(message: Message) -> str | None:
    """A message as a thread line, or None for what Slack itself sent."""
    if (message.meta or {}).get("source") == SLACK:
        return None
    body = escape(message.text) if message.text else ""
    names = [str(a.get("name") or a.get("kind") or "file") for a in message.attachments or []]
    if names:
        body = f"{body} :paperclip: {escape(', '.join(names))}".strip()
    body = body or "_(empty)_"
    if message.direction == "in":
        return f":speech_balloon: {body}"
    if message.author_type == "agent":
        return f":bust_in_silhouette: *{escape(message.author_name or 'Agent')}:* {body}"
    if message.author_type == "bot":
        return f":robot_face: *Bot:* {body}"
    return f":information_source: {body}"


async def event_line(session: AsyncSession, event: TimelineEvent, style: Style) -> str | None:
    """A timeline event as a thread line, or None for events the thread does not need."""
    data: dict[str, Any] = event.data or {}
    kind = event.kind
    if kind == "assigned":
        if data.get("by") in ("claim", "reply", None):
            return None  # the claim line or the reply itself already says so
        suffix = " (round-robin)" if data.get("by") == "round_robin" else ""
        return f":arrow_right: assigned to {await _agent_name(session, data)}{suffix}"
    if kind == "claimed":
        return f":raising_hand: claimed by {await label(session, event)}"
    if kind == "requeued":
        waited = minutes(data.get("after_s"))
        who = await _agent_name(session, data)
        back = ":leftwards_arrow_with_hook: back in the queue"
        return f"{back}: no reply from {who} in {waited} min"
    if kind == "sla_breached":
        waited = minutes(data.get("waited_s"))
        return (
            f"{style.escalation_mention} :rotating_light: first response SLA breached"
            f" — waiting {waited} min"
        ).strip()
    if kind == "note":
        if data.get("source") == SLACK:
            return None
        return f"📝 note by {await label(session, event)}: {escape(str(data.get('text', '')))}"
    if kind == "snoozed":
        return await _snoozed(session, event, style)
    if kind == "unsnoozed":
        reason = str(data.get("reason") or "")
        why = WAKE_REASONS.get(reason) or f"woken by {await label(session, event)}"
        return f":alarm_clock: snooze over: {why}"
    if kind == "status_changed":
        return await _moved(session, event)
    return None


async def _snoozed(session: AsyncSession, event: TimelineEvent, style: Style) -> str:
    until = (event.data or {}).get("until")
    when = "later"
    if until:
        when = local_time(datetime.fromisoformat(str(until)), style.timezone)
    return f":zzz: snoozed until {when} by {await label(session, event)}"


async def _moved(session: AsyncSession, event: TimelineEvent) -> str | None:
    data = event.data or {}
    target, origin = data.get("to"), data.get("from")
    if target == "resolved":
        return f":white_check_mark: Resolved by {await label(session, event)}"
    if target == "bot":
        return f":robot_face: returned to the bot by {await label(session, event)}"
    if target == "waiting_agent" and origin == "bot":
        reason = escape(str(data.get("reason") or "asked for a human"))
        return f":hourglass: back with the agents: {reason}"
    return None


async def _agent_name(session: AsyncSession, data: dict[str, Any]) -> str:
    if data.get("agent_name"):
        return escape(str(data["agent_name"]))
    agent = await session.get(Agent, data["agent_id"]) if data.get("agent_id") else None
    return escape(agent.name or agent.email) if agent is not None else "an agent"
