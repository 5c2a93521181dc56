"""GET /console/export and /console/export/download: one row per conversation, from the
console (supervisor+).

The download reuses the API export as it is — the same query, audit entry and streamed
renderer (crm_core.reporting) — with the signed-in console user as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from crm_core.enums import Channel, Role
from crm_core.reporting.export_audit import audit_export
from crm_core.reporting.export_query import ExportQuery
from crm_core.reporting.export_render import media_type, render
from crm_core.types import utcnow
from handoff.console.i18n import Translate, translator
from handoff.console.web import Console, Who

DEFAULT_DAYS = 30
FORMATS = ("csv", "json")
Text = Annotated[str | None, Query(max_length=40)]


@dataclass(frozen=True)
class ExportForm:
    """What the form asks for, as typed (for redisplay) and checked (for the download)."""

    start: str
    end: str
    fmt: str
    channel: str


class FormError(ValueError):
    """A form field the export cannot use; the message is already in the reader's language."""


def _day(value: str, label: str, t: Translate) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FormError(t("export_error_date", field=label)) from None
    if day == date.max:  # the range ends the day after: there is none
        raise FormError(t("export_error_date", field=label))
    return day


def check(form: ExportForm, t: Translate) -> tuple[date, date]:
    """The inclusive local days to export; FormError names what is wrong."""
    if form.fmt not in FORMATS:
        raise FormError(t("export_error_format"))
    if form.channel and form.channel not in set(Channel):
        raise FormError(t("export_error_channel"))
    first = _day(form.start, t("export_from"), t)
    last = _day(form.end, t("export_to"), t)
    if first > last:
        raise FormError(t("export_error_order"))
    return first, last


def default_form(zone: ZoneInfo) -> ExportForm:
    """The last 30 local days as CSV, as the API export defaults to."""
    last = utcnow().astimezone(zone).date()
    first = last - timedelta(days=DEFAULT_DAYS - 1)
    return ExportForm(first.isoformat(), last.isoformat(), "csv", "")


def export_router(console: Console) -> APIRouter:
    router = APIRouter()

    async def supervisor(request: Request) -> Who | Response:
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not who.at_least(Role.SUPERVISOR):
            return console.forbidden(request, who)
        return who

    def page(request: Request, who: Who, form: ExportForm, error: str | None = None) -> Response:
        return console.render(
            request,
            "export.html",
            422 if error else 200,
            who=who,
            form=form,
            error=error,
            formats=FORMATS,
            channels=list(Channel),
        )

    @router.get("/export")
    async def export_page(
        request: Request,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        channel: Text = None,
    ) -> Response:
        """The form, filled with the last 30 days or the range a link brought along."""
        who = await supervisor(request)
        if not isinstance(who, Who):
            return who
        default = default_form(console.tz(request))
        form = ExportForm(start or default.start, end or default.end, "csv", channel or "")
        return page(request, who, form)

    @router.get("/export/download")
    async def download(
        request: Request,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        format: Text = None,  # noqa: A002 - the API export's parameter name
        channel: Text = None,
    ) -> Response:
        who = await supervisor(request)
        if not isinstance(who, Who):
            return who
        zone = console.tz(request)
        default = default_form(zone)
        form = ExportForm(
            start or default.start, end or default.end, format or "csv", channel or ""
        )
        try:
            first, last = check(form, translator(console.language(request)))
        except FormError as error:
            return page(request, who, form, str(error))
        return await _stream(request, console, who, form, first, last)

    return router


async def _stream(
    request: Request, console: Console, who: Who, form: ExportForm, first: date, last: date
) -> StreamingResponse:
    """Audit first (an interrupted download still counts), then stream page by page."""
    db = console.get_db(request)
    zone = console.tz(request)
    fmt = cast(Literal["csv", "json"], form.fmt)
    query = ExportQuery.local_days(first, last, timezone=zone.key, channel=form.channel or None)
    await audit_export(
        db,
        query,
        kind="conversations",
        fmt=fmt,
        first=first,
        last=last,
        actor_type="agent",
        actor_id=who.agent.id,
    )
    chunks = render(db, query, kind="conversations", fmt=fmt, zone=zone)
    filename = f"conversations-{first.isoformat()}-{last.isoformat()}.{fmt}"
    return StreamingResponse(
        (chunk.encode("utf-8") async for chunk in chunks),
        media_type=media_type("conversations", fmt),
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
