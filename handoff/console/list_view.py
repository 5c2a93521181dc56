"""`/console`: the conversation list with its filter form, search and keyset pages.

The form is a plain GET, so filters live in the address (bookmarkable, no JavaScript).
A value the list does not accept answers 400 with the form and a message, never a 500.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from crm_core.models import Agent
from crm_core.reporting.conversation_list import ListPage, list_page
from crm_core.reporting.conversation_search import (
    CHANNELS,
    CSAT_SCORES,
    HANDLED,
    PARAMS,
    SEVERITIES,
    STATUSES,
    FilterError,
    parse_filter,
)
from handoff.console.i18n import translator
from handoff.console.web import Console, Who

PAGE_SIZE = 50
# The form's label of each parameter, to name the one that was refused.
FIELD_LABELS = {
    "q": "list_search",
    "channel": "list_channel",
    "status": "list_status",
    "agent": "list_agent",
    "from": "list_from",
    "to": "list_to",
    "tag": "list_tag",
    "csat": "list_csat",
    "csat_min": "list_csat_min",
    "severity": "list_severity",
    "handled": "list_handled",
    "customer": "list_customer",
    "cursor": "list_cursor",
}


def list_router(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("")
    async def home(request: Request) -> Response:
        """The list for any signed-in user; the login form for everyone else."""
        who = await console.current(request)
        if who is None:
            return console.render(request, "login.html", error=None)
        chosen = {key: request.query_params.get(key, "")[:300] for key in PARAMS}
        cursor = request.query_params.get("cursor") or None
        page, problem = ListPage([], None), None
        try:
            wanted = parse_filter(chosen, timezone=console.get_timezone(request))
            async with console.get_db(request).reading() as session:
                page = await list_page(session, wanted, cursor=cursor, limit=PAGE_SIZE)
        except FilterError as error:
            problem = _explain(console.language(request), error)
        return await _render(console, request, who, chosen, page, problem, cursor)

    return router


async def _render(
    console: Console,
    request: Request,
    who: Who,
    chosen: dict[str, str],
    page: ListPage,
    problem: str | None,
    cursor: str | None,
) -> Response:
    async with console.get_db(request).reading() as session:
        agents = (await session.execute(select(Agent.id, Agent.name).order_by(Agent.name))).all()
    kept = {key: value for key, value in chosen.items() if value}
    return console.render(
        request,
        "conversations.html",
        status_code=400 if problem else 200,
        who=who,
        page=page,
        chosen=chosen,
        problem=problem,
        agents=agents,
        channels=CHANNELS,
        statuses=STATUSES,
        severities=SEVERITIES,
        handled=HANDLED,
        scores=CSAT_SCORES,
        paged=cursor is not None,
        first_url="/console" + (f"?{urlencode(kept)}" if kept else ""),
        next_url=(
            f"/console?{urlencode({**kept, 'cursor': page.next_cursor})}"
            if page.next_cursor
            else None
        ),
    )


def _explain(lang: str, error: FilterError) -> str:
    """The refusal in the reader's language, naming the field as the form labels it."""
    t = translator(lang)
    field = t(FIELD_LABELS.get(error.field, error.field))
    if error.allowed:
        choices = ", ".join(error.allowed)
        return t("list_bad_choice", field=field, value=error.value, allowed=choices)
    return t("list_bad_value", field=field, value=error.value)
