"""Console pages, server-rendered with Jinja2 (autoescape on), readable without JavaScript.

This module builds the router: login, logout and the availability toggle here; the
conversation list, the queue, the conversation page and live updates in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crm_core.auth import authenticate_agent
from crm_core.db import Database
from crm_core.models import Agent
from crm_core.types import utcnow
from handoff import assignment, service
from handoff.console.conversation_view import ACTIONS, ERRORS, conversation_router
from handoff.console.customer_view import customer_router
from handoff.console.dashboard_view import dashboard_router
from handoff.console.dead_letter_source import DeadLetterSource
from handoff.console.dead_letters_view import dead_letters_router
from handoff.console.export_view import export_router
from handoff.console.i18n import LANG_COOKIE, LANGUAGES, translator
from handoff.console.list_view import list_router
from handoff.console.live import live_router
from handoff.console.print_view import print_router
from handoff.console.qa_view import qa_router
from handoff.console.queue_view import queue_router
from handoff.console.sessions import COOKIE, SessionSigner
from handoff.console.web import CSP, HERE, Console, runtime_timezone

__all__ = ["ACTIONS", "CSP", "ERRORS", "STATIC_DIR", "console_router"]

STATIC_DIR = HERE / "static"
LANDING = "/console/queue"


def console_router(
    *,
    get_db: Callable[[Request], Database],
    signer: SessionSigner,
    secure_cookies: bool,
    on_reply: Callable[[Request], None] = lambda _request: None,
    get_timezone: Callable[[Request], str] = runtime_timezone,
    get_dead_letters: Callable[[Request], DeadLetterSource | None] = lambda _request: None,
) -> APIRouter:
    """Build the console routes around a database getter and a cookie signer."""
    console = Console(
        get_db=get_db,
        signer=signer,
        secure_cookies=secure_cookies,
        on_reply=on_reply,
        get_timezone=get_timezone,
        get_dead_letters=get_dead_letters,
    )
    router = APIRouter()
    for part in (
        _pages,
        list_router,
        queue_router,
        qa_router,
        print_router,
        conversation_router,
        live_router,
        customer_router,
        dashboard_router,
        export_router,
        dead_letters_router,
    ):
        router.include_router(part(console), prefix="/console", include_in_schema=False)
    return router


def _pages(console: Console) -> APIRouter:
    router = APIRouter()

    @router.post("/login")
    async def login(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=200)],
    ) -> Response:
        async with console.get_db(request).reading() as db_session:
            agent = await authenticate_agent(db_session, email, password)
        if agent is None:
            t = translator(console.language(request))
            return console.render(request, "login.html", status_code=401, error=t("login_wrong"))
        response = RedirectResponse(LANDING, status_code=303)
        response.set_cookie(
            COOKIE,
            console.signer.issue(agent.id),
            max_age=console.signer.max_age_s,
            httponly=True,
            secure=console.secure_cookies,
            samesite="lax",
            path="/console",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form(max_length=128)]) -> Response:
        cookie = request.cookies.get(COOKIE)
        if cookie is None or not console.signer.check_csrf(cookie, csrf):
            return console.session_expired(request)
        response = RedirectResponse("/console", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    @router.post("/logout-everywhere")
    async def logout_everywhere(
        request: Request, csrf: Annotated[str, Form(max_length=128)]
    ) -> Response:
        """End every session of this user, on every device (e.g. a lost phone)."""
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not console.csrf_ok(who, csrf):
            return console.session_expired(request)
        async with console.get_db(request).transaction() as db_session:
            agent = await db_session.get(Agent, who.agent.id)
            if agent is not None:
                agent.sessions_valid_after = utcnow()
        response = RedirectResponse("/console", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    @router.get("/language")
    async def language(request: Request, to: str = "vi", back: str = LANDING) -> Response:
        """The language switcher: remembered in a cookie for a year."""
        response = RedirectResponse(_local(back), status_code=303)
        if to in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE,
                to,
                max_age=365 * 24 * 3600,
                httponly=True,
                secure=console.secure_cookies,
                samesite="lax",
                path="/console",
            )
        return response

    @router.post("/availability")
    async def availability(
        request: Request,
        csrf: Annotated[str, Form(max_length=128)],
        available: Annotated[str, Form(max_length=5)] = "",
        back: Annotated[str, Form(max_length=300)] = LANDING,
    ) -> Response:
        """On or off duty: only available agents get new conversations assigned."""
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not console.csrf_ok(who, csrf):
            return console.session_expired(request)
        if available not in ("0", "1"):
            return RedirectResponse(_local(back), status_code=303)
        try:
            await assignment.set_availability(
                console.get_db(request), who.agent.id, available=available == "1"
            )
        except service.HandoffError:
            return RedirectResponse("/console", status_code=303)
        return RedirectResponse(_local(back), status_code=303)

    return router


def _local(path: str) -> str:
    """Only ever redirect back inside the console (no open redirect through `back`)."""
    if path.startswith("/console") and "//" not in path and "\\" not in path:
        return path
    return LANDING
