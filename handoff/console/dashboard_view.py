"""GET /console/dashboard: the metrics summary as tiles and server-drawn charts (supervisor+).

The range and channel are read by crm_core.reporting.metrics_range, exactly as the API reads
them, and the figures come from the same summary() call: the page and
GET /api/v1/metrics/summary show the same numbers for the same query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from crm_core.enums import Channel, Role
from crm_core.reporting.metrics import summary
from crm_core.reporting.metrics_range import MetricsRange, RangeError, parse_request
from handoff.console.dashboard_charts import charts
from handoff.console.dashboard_tiles import Formats, tiles
from handoff.console.i18n import Translate, translator
from handoff.console.web import Console

MAX_CHART_DAYS = 366


def range_error(error: RangeError, t: Translate) -> str:
    """The reason a range was refused, in the reader's language."""
    if error.reason == "channel":
        return t("dashboard_error_channel")
    if error.reason == "order":
        return t("dashboard_error_order")
    field = t("dashboard_from") if error.field == "from" else t("dashboard_to")
    return t("dashboard_error_format", field=field)


def local_days(asked: MetricsRange, zone: ZoneInfo) -> list[str]:
    """Every local day the range touches, as YYYY-MM-DD (the per-day chart's columns)."""
    first = asked.start.astimezone(zone).date()
    last = (asked.end - timedelta(microseconds=1)).astimezone(zone).date()
    count = min((last - first).days + 1, MAX_CHART_DAYS)
    return [(first + timedelta(days=n)).isoformat() for n in range(max(count, 0))]


def days_cut(asked: MetricsRange, zone: ZoneInfo) -> bool:
    """True when the range is longer than the per-day chart draws."""
    span = asked.end.astimezone(zone).date() - asked.start.astimezone(zone).date()
    return span.days > MAX_CHART_DAYS


def form_values(asked: MetricsRange, zone: ZoneInfo) -> dict[str, str]:
    """The filter form filled with the range shown (`to` is the last day included)."""
    last: datetime = asked.end - timedelta(microseconds=1)
    return {
        "start": asked.start.astimezone(zone).date().isoformat(),
        "end": last.astimezone(zone).date().isoformat(),
        "channel": asked.channel or "",
    }


def dashboard_router(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/dashboard")
    async def dashboard(
        request: Request,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        channel: Annotated[str | None, Query(max_length=20)] = None,
    ) -> Response:
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not who.at_least(Role.SUPERVISOR):
            return console.forbidden(request, who)
        zone = console.tz(request)
        lang = console.language(request)
        page = {"who": who, "channels": list(Channel), "timezone": zone.key}
        try:
            asked = parse_request(start or None, end or None, channel or None, zone)
        except RangeError as error:
            entered = {"start": start or "", "end": end or "", "channel": channel or ""}
            message = range_error(error, translator(lang))
            return console.render(
                request, "dashboard.html", 422, error=message, form=entered, **page
            )
        async with console.get_db(request).reading() as session:
            found = await summary(
                session, start=asked.start, end=asked.end, channel=asked.channel, timezone=zone.key
            )
        figures = found.as_dict()
        fmt = Formats(translator(lang), lang)
        days = local_days(asked, zone)
        return console.render(
            request,
            "dashboard.html",
            form=form_values(asked, zone),
            figures=figures,
            tiles=tiles(figures, fmt),
            charts=charts(figures, days, fmt),
            per_day=figures["per_day"],
            days_cut=days_cut(asked, zone),
            **page,
        )

    return router
