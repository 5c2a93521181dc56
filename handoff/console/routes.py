"""Console pages, server-rendered with Jinja2 (autoescape on), readable without JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from crm_core.auth import authenticate_agent
from crm_core.db import Database
from crm_core.models import Agent, Conversation, Customer
from crm_core.queries import transcript_of
from handoff import service
from handoff.console.sessions import COOKIE, SessionSigner

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATUSES = ("bot", "waiting_agent", "agent", "resolved")
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; form-action 'self'"


def templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


ACTIONS = ("claim", "reply", "resolve", "return-to-bot")
ERRORS = {
    "already_claimed": "Another agent has already claimed this conversation.",
    "illegal_transition": "That is not possible in the conversation's current state.",
    "conflict": "That is not possible in the conversation's current state.",
    "empty_reply": "Write something before sending.",
}


def console_router(
    *,
    get_db: Callable[[Request], Database],
    signer: SessionSigner,
    secure_cookies: bool,
    on_reply: Callable[[Request], None] = lambda _request: None,
) -> APIRouter:
    """Build the console routes around a database getter and a cookie signer."""
    router = APIRouter(prefix="/console", include_in_schema=False)
    env = templates()

    def render(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
        html = env.get_template(name).render(**context)
        return HTMLResponse(
            html, status_code=status_code, headers={"Content-Security-Policy": CSP}
        )

    async def current_agent(request: Request) -> tuple[Agent, str] | None:
        cookie = request.cookies.get(COOKIE)
        session = signer.read(cookie)
        if session is None or cookie is None:
            return None
        async with get_db(request).reading() as db_session:
            agent = await db_session.get(Agent, session.agent_id)
        return (agent, cookie) if agent is not None and agent.active else None

    @router.get("")
    async def home(request: Request, status: str | None = None) -> Response:
        who = await current_agent(request)
        if who is None:
            return render("login.html", error=None)
        agent, cookie = who
        stmt = (
            select(Conversation, Customer.name)
            .join(Customer, Customer.id == Conversation.customer_id)
            .order_by(Conversation.updated_at.desc())
            .limit(100)
        )
        if status in STATUSES:
            stmt = stmt.where(Conversation.status == status)
        async with get_db(request).reading() as db_session:
            rows = (await db_session.execute(stmt)).all()
        return render(
            "conversations.html",
            agent=agent,
            rows=rows,
            statuses=STATUSES,
            selected=status,
            csrf=signer.csrf_token(cookie),
        )

    @router.post("/login")
    async def login(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=200)],
    ) -> Response:
        async with get_db(request).reading() as db_session:
            agent = await authenticate_agent(db_session, email, password)
        if agent is None:
            return render("login.html", status_code=401, error="Wrong e-mail or password.")
        response = RedirectResponse("/console", status_code=303)
        response.set_cookie(
            COOKIE,
            signer.issue(agent.id),
            max_age=signer.max_age_s,
            httponly=True,
            secure=secure_cookies,
            samesite="lax",
            path="/console",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form(max_length=128)]) -> Response:
        cookie = request.cookies.get(COOKIE)
        if cookie is None or not signer.check_csrf(cookie, csrf):
            return render("login.html", status_code=403, error="Session expired; log in again.")
        response = RedirectResponse("/console", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    @router.post("/conversations/{conversation_id}/{action}")
    async def act(
        request: Request,
        conversation_id: str,
        action: str,
        csrf: Annotated[str, Form(max_length=128)],
        text: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        """The same service functions as the REST API; errors come back on the page."""
        who = await current_agent(request)
        if who is None or action not in ACTIONS:
            return RedirectResponse("/console", status_code=303)
        agent, cookie = who
        if not signer.check_csrf(cookie, csrf):
            return render("login.html", status_code=403, error="Session expired; log in again.")
        actor = service.Actor(type="agent", id=agent.id, name=agent.name, agent_id=agent.id)
        db = get_db(request)
        target = f"/console/conversations/{conversation_id}"
        try:
            if action == "claim":
                await service.claim(db, conversation_id, actor)
            elif action == "resolve":
                await service.resolve(db, conversation_id, actor)
                on_reply(request)  # the satisfaction survey goes out
            elif action == "return-to-bot":
                await service.return_to_bot(db, conversation_id, actor)
            else:
                result = await service.reply(db, conversation_id, actor, text=text)
                if result.message is not None:
                    on_reply(request)
        except service.HandoffError as exc:
            return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
        return RedirectResponse(target, status_code=303)

    @router.get("/conversations/{conversation_id}")
    async def transcript(
        request: Request, conversation_id: str, error: str | None = None
    ) -> Response:
        who = await current_agent(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        agent, cookie = who
        async with get_db(request).reading() as db_session:
            conversation = await db_session.get(Conversation, conversation_id)
            if conversation is None:
                return render(
                    "missing.html", status_code=404, agent=agent, csrf=signer.csrf_token(cookie)
                )
            customer = await db_session.get_one(Customer, conversation.customer_id)
            messages, events = await transcript_of(db_session, conversation_id)
        return render(
            "conversation.html",
            agent=agent,
            conversation=conversation,
            customer=customer,
            messages=messages,
            events=events,
            csrf=signer.csrf_token(cookie),
            error=ERRORS.get(error or "", "That did not work." if error else None),
        )

    return router
