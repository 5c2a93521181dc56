"""GET /api/v1/metrics/summary: the supervisors' numbers for a local date range and channel."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from crm_core.reporting.metrics import summary
from crm_core.reporting.metrics_range import RangeError, parse_request
from omnicrm.api.deps import RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("/summary")
async def metrics_summary(
    _: SupervisorDep,
    runtime: RuntimeDep,
    session: SessionDep,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """Every figure of crm_core.reporting.metrics.summary, flat, with the range it covers."""
    zone = ZoneInfo(runtime.settings.timezone)
    try:
        asked = parse_request(start, end, channel, zone)
    except RangeError as error:
        raise ApiError(422, "validation_error", str(error)) from None
    figures = await summary(
        session,
        start=asked.start,
        end=asked.end,
        channel=asked.channel,
        timezone=runtime.settings.timezone,
    )
    return {
        "from": asked.start.astimezone(zone).isoformat(),
        "to": asked.end.astimezone(zone).isoformat(),
        "channel": asked.channel,
        "timezone": zone.key,
        **figures.as_dict(),
    }
