"""Every export is audited before its first byte leaves, so an interrupted download counts too."""

from __future__ import annotations

from datetime import date

from crm_core.audit import audit
from crm_core.db import Database
from crm_core.reporting import export_query
from crm_core.reporting.export_query import ExportQuery


async def audit_export(
    db: Database,
    query: ExportQuery,
    *,
    kind: str,
    fmt: str,
    first: date,
    last: date,
    actor_type: str,
    actor_id: str | None,
) -> int:
    """Count the conversations and record who exported what (ids and counts only)."""
    async with db.transaction() as session:
        rows = await export_query.count(session, query)
        data: dict[str, object] = {
            "kind": kind,
            "format": fmt,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "rows": rows,
        }
        if query.channel:
            data["channel"] = query.channel
        if query.status:
            data["status"] = query.status
        audit(
            session,
            action="export",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="conversations",
            data=data,
        )
    return rows
