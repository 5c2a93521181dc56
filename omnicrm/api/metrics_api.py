"""GET /api/v1/metrics/summary: the supervisors' numbers for a local date range and channel."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from crm_core.enums import Channel
from crm_core.reporting.metrics import summary
from crm_core.types import utcnow
from omnicrm.api.deps import RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError

router = APIRouter(prefix="/metrics", tags=["metrics"])
DEFAULT_DAYS = 30


def _bound(value: str, name: str, zone: ZoneInfo, *, upper: bool) -> datetime:
    """A date is a whole local day (`to` includes it); an ISO datetime is an exact instant
    (local time when it has no offset)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=upper), time(), zone)
        instant = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise ApiError(
            422, "validation_error", f"{name}: expected YYYY-MM-DD or an ISO 8601 datetime"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=zone)


def resolve_range(start: str | None, end: str | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) instants; the default is the last 30 local days, today included."""
    today = utcnow().astimezone(zone).date()
    upper = _bound(end or today.isoformat(), "to", zone, upper=True)
    if start:
        lower = _bound(start, "from", zone, upper=False)
    else:
        first = upper.astimezone(zone).date() - timedelta(days=DEFAULT_DAYS)
        lower = datetime.combine(first, time(), zone)
    if lower > upper:
        raise ApiError(422, "validation_error", "from: must not be after to")
    return lower, upper


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
    if channel is not None and channel not in set(Channel):
        known = ", ".join(Channel)
        raise ApiError(422, "validation_error", f"channel: unknown channel (one of {known})")
    lower, upper = resolve_range(start, end, zone)
    figures = await summary(
        session, start=lower, end=upper, channel=channel, timezone=runtime.settings.timezone
    )
    return {
        "from": lower.astimezone(zone).isoformat(),
        "to": upper.astimezone(zone).isoformat(),
        "channel": channel,
        "timezone": zone.key,
        **figures.as_dict(),
    }
