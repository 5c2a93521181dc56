"""One time-ordered list of a conversation's messages and timeline events, for the transcript.

Events that only echo a message (`message_received`, `reply_queued`) are left out: the message
itself is on the page. Every other event says what happened and who did it, in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.models import Message, TimelineEvent

AUTHORS = {"bot": "Bot", "system": "System", "customer": "Customer"}
ACTORS = {"system": "system", "bot": "bot", "customer": "customer", "api_key": "API"}


@dataclass(frozen=True)
class Entry:
    """A message (`message` set) or an event described in `text`, at `at`."""

    at: datetime
    key: str
    message: Message | None = None
    author: str = ""
    event_kind: str = ""
    text: str = ""
    actor: str = ""

    @property
    def is_note(self) -> bool:
        return self.event_kind == "note"


def merge(
    messages: Sequence[Message],
    events: Sequence[TimelineEvent],
    *,
    customer_name: str,
    agent_names: Mapping[str, str],
    tz: ZoneInfo,
) -> list[Entry]:
    """Messages and events interleaved oldest first (ties: the message first)."""
    entries = [
        Entry(at=m.created_at, key=f"0{m.id}", message=m, author=author_of(m, customer_name))
        for m in messages
    ]
    for event in events:
        if "message_id" in event.data:
            continue
        entries.append(
            Entry(
                at=event.created_at,
                key=f"1{event.id}",
                event_kind=event.kind,
                text=describe(event.kind, event.data, tz=tz, agent_names=agent_names),
                actor=actor_of(event, agent_names),
            )
        )
    return sorted(entries, key=lambda entry: (entry.at, entry.key))


def author_of(message: Message, customer_name: str) -> str:
    if message.author_type == "customer":
        return customer_name
    if message.author_type == "agent":
        return message.author_name or "Agent"
    return AUTHORS.get(message.author_type, message.author_type)


def actor_of(event: TimelineEvent, agent_names: Mapping[str, str]) -> str:
    """The person or part of the system behind an event, by name when we know it."""
    named = event.data.get("actor_name")
    if named:
        return str(named)
    if event.actor_id and event.actor_id in agent_names:
        return agent_names[event.actor_id]
    return ACTORS.get(event.actor_type, event.actor_type)


def describe(
    kind: str, data: Mapping[str, Any], *, tz: ZoneInfo, agent_names: Mapping[str, str]
) -> str:
    """A short sentence for an event; unknown kinds fall back to their name."""
    agent = str(data.get("agent_name") or agent_names.get(str(data.get("agent_id")), "an agent"))
    if kind == "status_changed":
        text = f"status {data.get('from', '?')} → {data.get('to', '?')}"
        return f"{text} ({data['reason']})" if data.get("reason") else text
    if kind == "claimed":
        return "claimed the conversation"
    if kind == "assigned":
        return f"assigned to {agent}"
    if kind == "requeued":
        text = f"back in the queue: {agent} did not answer"
        if data.get("after_s") is not None:
            text += f" within {duration(float(data['after_s']))}"
        return f"{text} ({data['reason']})" if data.get("reason") else text
    if kind == "sla_breached":
        waited = data.get("waited_s")
        target = data.get("target_s")
        text = "first-response SLA breached"
        if waited is not None and target is not None:
            text += f": waited {duration(float(waited))}, target {duration(float(target))}"
        return text
    if kind == "note":
        return str(data.get("text", ""))
    if kind == "snoozed":
        return f"snoozed until {local_time(data.get('until'), tz)}"
    if kind == "unsnoozed":
        return f"snooze ended ({data['reason']})" if data.get("reason") else "snooze ended"
    if kind == "csat_received":
        return f"customer rated the conversation {data.get('score')}/5"
    if kind == "conversation_opened":
        return f"conversation opened on {data.get('channel', '?')}"
    return kind.replace("_", " ")


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h 5 min`: short enough for a timeline line."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def local_time(value: object, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A datetime or ISO-8601 string shown in the business timezone ('' when absent)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is None:
        return value.strftime(fmt)
    return value.astimezone(tz).strftime(fmt)
