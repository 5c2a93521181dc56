"""GET /conversations/export: one row per conversation as a streamed CSV or JSON download.

Included before the conversations router so "export" is never read as a conversation id.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from crm_core.reporting.export_audit import audit_export
from crm_core.reporting.export_query import ExportQuery
from crm_core.reporting.export_render import media_type, render
from omnicrm.api.deps import RuntimeDep, SupervisorDep
from omnicrm.api.errors import ApiError

router = APIRouter(tags=["exports"])
DEFAULT_DAYS = 30
ChannelName = Literal["telegram", "zalo", "sms", "email", "slack", "webchat"]
StatusName = Literal["bot", "waiting_agent", "agent", "resolved"]


@router.get("/conversations/export", response_class=StreamingResponse)
async def export_conversations(
    principal: SupervisorDep,
    runtime: RuntimeDep,
    format: Literal["csv", "json"] = "csv",  # noqa: A002 - the contract's parameter name
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    channel: ChannelName | None = None,
    status: StatusName | None = None,
) -> StreamingResponse:
    """Conversations created on local days from..to (inclusive; default the last 30 days)."""
    zone = ZoneInfo(runtime.settings.timezone)
    last = last or datetime.now(zone).date()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ApiError(422, "validation_error", "`from` must not be after `to`")
    query = ExportQuery.local_days(
        first, last, timezone=runtime.settings.timezone, channel=channel, status=status
    )
    await audit_export(
        runtime.db,
        query,
        kind="conversations",
        fmt=format,
        first=first,
        last=last,
        actor_type=principal.kind,
        actor_id=principal.id,
    )
    chunks = render(runtime.db, query, kind="conversations", fmt=format, zone=zone)
    filename = f"conversations-{first.isoformat()}-{last.isoformat()}.{format}"
    return StreamingResponse(
        (chunk.encode("utf-8") async for chunk in chunks),
        media_type=media_type("conversations", format),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
