"""Which conversations the list holds: typed filters checked against allow-lists, turned
into WHERE terms, and the keyset position (cursor) in the list's order.

The list runs newest activity first, (updated_at desc, id desc), along
`ix_conversations_updated_at_id` (or its channel/status/agent variants), so the 1000th page
costs what the first does. Search matches the folded `messages.search_text` with LIKE:
PostgreSQL answers from the trigram index `ix_messages_search_text_trgm`; SQLite has no such
index (see conversation_list.py for how a page avoids scanning when it can).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from crm_core.enums import Channel, ConversationStatus
from crm_core.models import Conversation, Customer, Message, Ticket, TimelineEvent
from crm_core.reporting.metrics_times import to_human
from crm_core.text import fold
from crm_core.tickets_severity import SEVERITIES

CHANNELS = tuple(channel.value for channel in Channel)
STATUSES = tuple(status.value for status in ConversationStatus)
HANDLED = ("bot", "agent")  # bot-only, or handed off to people at some point
CSAT_SCORES = ("1", "2", "3", "4", "5")
# The query-string names the list reads (the console form and links use exactly these).
PARAMS = (
    "q",
    "channel",
    "status",
    "agent",
    "from",
    "to",
    "tag",
    "csat",
    "csat_min",
    "severity",
    "handled",
    "customer",
)
MAX_QUERY = 200
MAX_ID = 64
# Events that put a conversation with people even without a `status_changed` (a direct claim).
HUMAN_EVENTS = ("claimed", "assigned")


class FilterError(ValueError):
    """A filter value the list does not accept; `field` names the parameter."""

    def __init__(self, field: str, value: str, allowed: Sequence[str] = ()) -> None:
        self.field = field
        self.value = value[:100]
        self.allowed = tuple(allowed)
        hint = f"; one of: {', '.join(self.allowed)}" if self.allowed else ""
        super().__init__(f"{field}: {self.value!r} is not accepted{hint}")


@dataclass(frozen=True)
class ConversationFilter:
    """What the reader asked for; every field None means "any". Times are UTC, [since, until)."""

    query: str | None = None  # folded
    raw_query: str | None = None  # as typed, for the customer name
    channel: str | None = None
    status: str | None = None
    agent_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tag: str | None = None
    csat: int | None = None
    csat_min: int | None = None
    severity: str | None = None
    handled: str | None = None
    customer_id: str | None = None


def parse_filter(params: Mapping[str, str | None], *, timezone: str) -> ConversationFilter:
    """Check raw parameters (query string or form) and turn them into a filter.

    Empty values mean "any"; `from`/`to` are whole local days in `timezone`, inclusive.
    """
    value = {key: (params.get(key) or "").strip() for key in PARAMS}
    zone = ZoneInfo(timezone)
    first, last = _day("from", value["from"]), _day("to", value["to"])
    if first and last and first > last:
        raise FilterError("to", value["to"])
    raw_query = value["q"][:MAX_QUERY]
    return ConversationFilter(
        query=fold(raw_query) or None,
        raw_query=raw_query or None,
        channel=_one_of("channel", value["channel"], CHANNELS),
        status=_one_of("status", value["status"], STATUSES),
        agent_id=_identifier("agent", value["agent"]),
        since=datetime.combine(first, time.min, tzinfo=zone) if first else None,
        until=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) if last else None,
        tag=_bounded("tag", value["tag"], 64),
        csat=_score("csat", value["csat"]),
        csat_min=_score("csat_min", value["csat_min"]),
        severity=_one_of("severity", value["severity"], SEVERITIES),
        handled=_one_of("handled", value["handled"], HANDLED),
        customer_id=_identifier("customer", value["customer"]),
    )


def _one_of(field: str, value: str, allowed: Sequence[str]) -> str | None:
    if value and value not in allowed:
        raise FilterError(field, value, allowed)
    return value or None


def _identifier(field: str, value: str) -> str | None:
    if value and not (len(value) <= MAX_ID and value.replace("-", "").isalnum()):
        raise FilterError(field, value)
    return value or None


def _bounded(field: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        raise FilterError(field, value)
    return value or None


def _score(field: str, value: str) -> int | None:
    return int(value) if _one_of(field, value, CSAT_SCORES) else None


def _day(field: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(field, value) from None


def conditions(
    flt: ConversationFilter, *, dialect: str, probe: bool = False
) -> list[ColumnElement[bool]]:
    """WHERE terms over `conversations` alone (sub-selects for messages, tags, tickets).

    Search and tag come in two forms: by default the set of matching conversations is built
    once (a scan of messages or customers); with `probe` each conversation is checked on its
    own through its indexes, which is cheaper when matches are dense among the rows walked.
    """
    c = Conversation
    terms: list[ColumnElement[bool]] = [
        column == wanted
        for column, wanted in (
            (c.channel, flt.channel),
            (c.status, flt.status),
            (c.assigned_agent_id, flt.agent_id),
            (c.customer_id, flt.customer_id),
            (c.csat, flt.csat),
        )
        if wanted is not None
    ]
    if flt.csat_min is not None:
        terms.append(c.csat >= flt.csat_min)
    if flt.since is not None:
        terms.append(c.updated_at >= flt.since)
    if flt.until is not None:
        terms.append(c.updated_at < flt.until)
    if flt.tag is not None:
        terms.append(_tagged(flt.tag, dialect, probe=probe))
    if flt.severity is not None:
        ticketed = select(Ticket.conversation_id).where(Ticket.severity == flt.severity)
        terms.append(c.id.in_(ticketed))
    if flt.handled is not None:
        terms.append(handed_off() if flt.handled == "agent" else not_(handed_off()))
    if flt.query:
        terms.append(_matches(flt.query, flt.raw_query or flt.query, probe=probe))
    return terms


def handed_off() -> ColumnElement[bool]:
    """The conversation went to people: assigned now, or any human-bound event on record."""
    event = any_row(
        TimelineEvent.conversation_id == Conversation.id,
        or_(to_human(), TimelineEvent.kind.in_(HUMAN_EVENTS)),
    )
    return or_(Conversation.assigned_agent_id.is_not(None), event)


def any_row(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """A correlated row exists, looked up per conversation through its index.

    Not EXISTS: inside an OR, PostgreSQL may hash the whole sub-select instead (millions of
    timeline events or messages for one page); a scalar sub-select with LIMIT 1 it cannot.
    """
    return select(literal(1)).where(*where).limit(1).scalar_subquery().is_not(None)


def _tagged(tag: str, dialect: str, *, probe: bool) -> ColumnElement[bool]:
    if probe:
        return any_row(Customer.id == Conversation.customer_id, _has_tag(tag, dialect))
    return Conversation.customer_id.in_(select(Customer.id).where(_has_tag(tag, dialect)))


def _has_tag(tag: str, dialect: str) -> ColumnElement[bool]:
    """`tag` is one of the customer's tags (a JSON list), on either database."""
    if dialect == "postgresql":
        return cast(Customer.tags, JSONB).contains([tag])
    each = func.json_each(Customer.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's own wildcards taken literally (escape character: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(folded: str, raw: str, *, probe: bool) -> ColumnElement[bool]:
    """A message says `folded`, or the customer's name holds `raw` (case aside)."""
    named = Customer.name.ilike(like_pattern(raw), escape="\\")
    if probe:
        return or_(
            any_row(Message.conversation_id == Conversation.id, message_matches(folded)),
            any_row(Customer.id == Conversation.customer_id, named),
        )
    # One set of ids (not an OR of two), so the database can build it first and then fetch
    # just those conversations.
    said = select(Message.conversation_id).where(message_matches(folded))
    of_named = select(Conversation.id).join(Customer).where(named)
    return Conversation.id.in_(said.union(of_named))


def message_matches(folded: str) -> ColumnElement[bool]:
    """The message's folded text holds the folded query."""
    return Message.search_text.like(like_pattern(folded), escape="\\")


# --- the position in the list ---------------------------------------------------------------


def encode_cursor(updated_at: datetime, row_id: str) -> str:
    """An opaque position: the last row's (updated_at, id)."""
    raw = f"{updated_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; FilterError for one this code did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, row_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        when = datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError):
        raise FilterError("cursor", cursor) from None
    if when.tzinfo is None or not row_id:
        raise FilterError("cursor", cursor)
    return when, row_id


def after(cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in (updated_at desc, id desc); the first term bounds the index."""
    when, row_id = decode_cursor(cursor)
    updated = Conversation.updated_at
    return and_(updated <= when, or_(updated < when, Conversation.id < row_id))


def ordered(stmt: Select[Any]) -> Select[Any]:
    """The list's order: newest activity first, ties by id."""
    return stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
