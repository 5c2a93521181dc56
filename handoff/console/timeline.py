"""One time-ordered list of a conversation's messages and timeline events, for the transcript.

Events that only echo a message (`message_received`, `reply_queued`) are left out: the message
itself is on the page. Every other event says what happened and who did it, in the reader's
language (phrases in translations/conversation.yml); unknown kinds show their name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.models import Message, TimelineEvent
from handoff.console.i18n import Translate

AUTHOR_KEYS = {
    "customer": "conversation_author_customer",
    "bot": "conversation_author_bot",
    "agent": "conversation_author_agent",
    "system": "conversation_author_system",
}
ACTOR_KEYS = {
    "system": "conversation_actor_system",
    "bot": "conversation_actor_bot",
    "customer": "conversation_actor_customer",
    "api_key": "conversation_actor_api",
}
STATUS_KEYS = {
    "bot": "conversation_status_bot",
    "waiting_agent": "conversation_status_waiting_agent",
    "agent": "conversation_status_agent",
    "resolved": "conversation_status_resolved",
}
DELIVERY_KEYS = {
    "received": "conversation_delivery_received",
    "queued": "conversation_delivery_queued",
    "sent": "conversation_delivery_sent",
    "delivered": "conversation_delivery_delivered",
    "read": "conversation_delivery_read",
    "failed": "conversation_delivery_failed",
}
# Events whose sentence only fills in fields of the event's data.
SIMPLE_KEYS = {
    "claimed": "conversation_event_claimed",
    "csat_received": "conversation_event_csat",
    "conversation_opened": "conversation_event_opened",
    "opted_out": "conversation_event_opted_out",
    "opted_in": "conversation_event_opted_in",
    "automated_message": "conversation_event_automated",
    "ticket_opened": "conversation_event_ticket_opened",
    "ticket_status_changed": "conversation_event_ticket_status",
    "ticket_severity_changed": "conversation_event_ticket_severity",
    "ticket_assigned": "conversation_event_ticket_assigned",
    "appointment_booked": "conversation_event_booked",
    "appointment_rescheduled": "conversation_event_rescheduled",
    "appointment_cancelled": "conversation_event_cancelled",
    "appointment_no_show": "conversation_event_no_show",
    "appointment_completed": "conversation_event_completed",
}


@dataclass(frozen=True)
class Entry:
    """A message (`message` set) or an event described in `text`, at `at`."""

    at: datetime
    key: str
    message: Message | None = None
    author: str = ""
    role: str = ""
    event_kind: str = ""
    text: str = ""
    actor: str = ""

    @property
    def is_note(self) -> bool:
        return self.event_kind == "note"


@dataclass(frozen=True)
class Words:
    """What describing needs besides the event: the reader's phrases, zone and agent names."""

    t: Translate
    tz: ZoneInfo
    agent_names: Mapping[str, str]


def merge(
    messages: Sequence[Message],
    events: Sequence[TimelineEvent],
    *,
    customer_name: str,
    words: Words,
) -> list[Entry]:
    """Messages and events interleaved oldest first (ties: the message first)."""
    t = words.t
    entries = [
        Entry(
            at=m.created_at,
            key=f"0{m.id}",
            message=m,
            author=author_of(m, customer_name, t),
            role=t(AUTHOR_KEYS.get(m.author_type, "conversation_author_system")),
        )
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
                text=describe(event.kind, event.data, words),
                actor=actor_of(event, words),
            )
        )
    return sorted(entries, key=lambda entry: (entry.at, entry.key))


def author_of(message: Message, customer_name: str, t: Translate) -> str:
    """The name shown over a message: the customer's, the agent's, or the bot/system label."""
    if message.author_type == "customer":
        return customer_name
    if message.author_type == "agent" and message.author_name:
        return message.author_name
    return t(AUTHOR_KEYS.get(message.author_type, "conversation_author_system"))


def actor_of(event: TimelineEvent, words: Words) -> str:
    """The person or part of the system behind an event, by name when we know it."""
    named = event.data.get("actor_name")
    if named:
        return str(named)
    if event.actor_id and event.actor_id in words.agent_names:
        return words.agent_names[event.actor_id]
    key = ACTOR_KEYS.get(event.actor_type)
    return words.t(key) if key else event.actor_type


def status_label(status: object, t: Translate) -> str:
    """A conversation status in words ("waiting for an agent"); unknown ones as they are."""
    key = STATUS_KEYS.get(str(status))
    return t(key) if key else str(status)


def delivery_label(status: object, t: Translate) -> str:
    """A message's delivery status in words; unknown ones as they are."""
    key = DELIVERY_KEYS.get(str(status))
    return t(key) if key else str(status)


def describe(kind: str, data: Mapping[str, Any], words: Words) -> str:
    """A short sentence for an event, with its reason when it has one."""
    special = _SPECIAL.get(kind)
    if special is not None:
        text = special(data, words)
    elif kind in SIMPLE_KEYS:
        text = words.t(SIMPLE_KEYS[kind], **_fields(data, words))
    else:
        return kind.replace("_", " ")
    reason = data.get("reason")
    if reason and kind not in ("unsnoozed", "automated_message"):
        return f"{text} ({reason})"
    return text


def _fields(data: Mapping[str, Any], words: Words) -> dict[str, str]:
    """The values the simple phrases use, formatted (times in the business timezone)."""
    return {
        "agent": _agent(data, words),
        "channel": str(data.get("channel", "?")),
        "score": str(data.get("score", "?")),
        "label": str(data.get("label", "")),
        "category": str(data.get("category", "")),
        "severity": str(data.get("severity", "")),
        "old": str(data.get("from", "?")),
        "new": str(data.get("to", "?")),
        "service": str(data.get("service", "")),
        "starts": local_time(data.get("starts_at"), words.tz),
    }


def _agent(data: Mapping[str, Any], words: Words) -> str:
    name = data.get("agent_name") or words.agent_names.get(str(data.get("agent_id")))
    return str(name) if name else words.t("conversation_an_agent")


def _status_changed(data: Mapping[str, Any], words: Words) -> str:
    old, new = (status_label(data.get(k, "?"), words.t) for k in ("from", "to"))
    return words.t("conversation_event_status", old=old, new=new)


def _assigned(data: Mapping[str, Any], words: Words) -> str:
    return words.t("conversation_event_assigned", agent=_agent(data, words))


def _requeued(data: Mapping[str, Any], words: Words) -> str:
    agent = _agent(data, words)
    if data.get("after_s") is None:
        return words.t("conversation_event_requeued", agent=agent)
    after = duration(float(data["after_s"]))
    return words.t("conversation_event_requeued_within", agent=agent, after=after)


def _sla_breached(data: Mapping[str, Any], words: Words) -> str:
    waited, target = data.get("waited_s"), data.get("target_s")
    if waited is None or target is None:
        return words.t("conversation_event_sla")
    return words.t(
        "conversation_event_sla_times",
        waited=duration(float(waited)),
        target=duration(float(target)),
    )


def _snoozed(data: Mapping[str, Any], words: Words) -> str:
    return words.t("conversation_event_snoozed", until=local_time(data.get("until"), words.tz))


def _unsnoozed(data: Mapping[str, Any], words: Words) -> str:
    text = words.t("conversation_event_unsnoozed")
    return f"{text} ({data['reason']})" if data.get("reason") else text


def _automated(data: Mapping[str, Any], words: Words) -> str:
    return words.t("conversation_event_automated", channel=str(data.get("channel", "?")))


def _note(data: Mapping[str, Any], _words: Words) -> str:
    return str(data.get("text", ""))


_SPECIAL: dict[str, Callable[[Mapping[str, Any], Words], str]] = {
    "status_changed": _status_changed,
    "assigned": _assigned,
    "requeued": _requeued,
    "sla_breached": _sla_breached,
    "snoozed": _snoozed,
    "unsnoozed": _unsnoozed,
    "automated_message": _automated,
    "note": _note,
}


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
