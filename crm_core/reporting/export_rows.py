"""One row per conversation: the shape both the CSV and the JSON export are written from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from crm_core.models import Conversation
from crm_core.reporting.export_figures import PageFigures

COLUMNS = (
    "conversation_id",
    "channel",
    "customer_id",
    "customer_name",
    "agent",
    "status",
    "created_at",
    "first_response_s",
    "resolution_s",
    "csat",
    "tags",
    "ticket",
    "bot_contained",
)


@dataclass(frozen=True)
class ConversationRow:
    """Times are whole seconds (rounded); created_at is ISO-8601 in the export's zone."""

    conversation_id: str
    channel: str
    customer_id: str
    customer_name: str | None
    agent: str | None
    status: str
    created_at: str
    first_response_s: int | None
    resolution_s: int | None
    csat: int | None
    tags: tuple[str, ...]
    ticket: tuple[str, ...]
    bot_contained: bool

    def as_json(self) -> dict[str, Any]:
        """JSON keeps lists as arrays and containment as a boolean."""
        return {name: _json_value(getattr(self, name)) for name in COLUMNS}

    def as_csv(self) -> list[str | int | None]:
        """CSV joins lists with ';' and says yes/no (what a spreadsheet filter wants)."""
        return [_csv_value(getattr(self, name)) for name in COLUMNS]


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _csv_value(value: Any) -> str | int | None:
    if isinstance(value, tuple):
        return ";".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value  # type: ignore[no-any-return]


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds())


def build_row(
    conversation: Conversation,
    *,
    customer_name: str | None,
    customer_tags: list[Any] | None,
    agent_name: str | None,
    figures: PageFigures,
    zone: tzinfo,
) -> ConversationRow:
    """Assemble a row from the page query's columns and the page's figures."""
    cid = conversation.id
    return ConversationRow(
        conversation_id=cid,
        channel=conversation.channel,
        customer_id=conversation.customer_id,
        customer_name=customer_name,
        agent=agent_name,
        status=conversation.status,
        created_at=conversation.created_at.astimezone(zone).isoformat(timespec="seconds"),
        first_response_s=_seconds(figures.handoff_at.get(cid), figures.first_reply_at.get(cid)),
        resolution_s=_seconds(conversation.created_at, conversation.resolved_at),
        csat=conversation.csat,
        tags=tuple(str(tag) for tag in customer_tags or ()),
        ticket=tuple(figures.tickets.get(cid, ())),
        bot_contained=cid not in figures.handed_off,
    )
