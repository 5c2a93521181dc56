"""The conversation page: timeline with messages, customer card, and the agent's actions.

Actions call the same `handoff.service` functions as Slack and the REST API, so ownership
rules hold on every path; an error comes back on the page as a sentence, never a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Agent, Conversation
from crm_core.queries import transcript_of
from crm_core.types import utcnow
from handoff import service
from handoff.card import Card, read_card
from handoff.console.live import conversation_fingerprint
from handoff.console.timeline import Entry, merge
from handoff.console.web import Console, Who
from handoff.times import Times, conversation_times

ACTIONS = ("claim", "reply", "note", "resolve", "return-to-bot", "snooze", "unsnooze")
ERRORS = {
    "already_claimed": "Another agent has already claimed this conversation.",
    "illegal_transition": "That is not possible in the conversation's current state.",
    "conflict": "That is not possible in the conversation's current state.",
    "empty_reply": "Write something before sending.",
    "invalid_time": "Choose when the snooze should end.",
    "not_found": "That conversation no longer exists.",
}
SNOOZES = (("30m", "30 min"), ("1h", "1 hour"), ("4h", "4 hours"), ("tomorrow", "tomorrow 9:00"))
MORNING = time(9, 0)


def snooze_until(choice: str, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The end of a snooze picked on the page; `tomorrow` is 9:00 tomorrow in the business
    timezone. None for an unknown choice."""
    spans = {"30m": timedelta(minutes=30), "1h": timedelta(hours=1), "4h": timedelta(hours=4)}
    if choice in spans:
        return now + spans[choice]
    if choice == "tomorrow":
        tomorrow = now.astimezone(tz).date() + timedelta(days=1)
        return datetime.combine(tomorrow, MORNING, tzinfo=tz)
    return None


@dataclass(frozen=True)
class View:
    """Everything the page and its live fragment show."""

    conversation: Conversation
    card: Card
    entries: list[Entry]
    assigned_name: str | None
    version: str


async def load_view(session: AsyncSession, conversation_id: str, tz: ZoneInfo) -> View | None:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    version = await conversation_fingerprint(session, conversation_id) or ""
    card = await read_card(session, conversation_id)
    messages, events = await transcript_of(session, conversation_id)
    ids = {e.actor_id for e in events if e.actor_type == "agent" and e.actor_id}
    ids |= {str(e.data["agent_id"]) for e in events if e.data.get("agent_id")}
    if conversation.assigned_agent_id:
        ids.add(conversation.assigned_agent_id)
    names: dict[str, str] = {}
    if ids:
        rows = await session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids)))
        names = {agent_id: name for agent_id, name in rows.all()}
    entries = merge(messages, events, customer_name=card.name, agent_names=names, tz=tz)
    assigned = names.get(conversation.assigned_agent_id or "")
    return View(conversation, card, entries, assigned, version)


def conversation_router(console: Console) -> APIRouter:
    router = APIRouter()

    async def page(
        request: Request, conversation_id: str, template: str, **extra: object
    ) -> Response:
        who = await console.current(request)
        if who is None:
            if template.startswith("_"):  # a fragment: tell live.js, do not redirect it
                return PlainTextResponse("log in first", status_code=401)
            return RedirectResponse("/console", status_code=303)
        tz = console.tz(request)
        times: Times | None = None
        async with console.get_db(request).reading() as session:
            view = await load_view(session, conversation_id, tz)
            if view is not None and template == "conversation.html":
                times = await conversation_times(session, conversation_id)
        if view is None:
            return console.render(request, "missing.html", status_code=404, who=who)
        return console.render(
            request,
            template,
            who=who,
            view=view,
            conversation=view.conversation,
            card=view.card,
            times=times,
            snoozes=SNOOZES,
            **extra,
        )

    @router.get("/conversations/{conversation_id}")
    async def transcript(
        request: Request, conversation_id: str, error: str | None = None
    ) -> Response:
        message = ERRORS.get(error or "", "That did not work.") if error else None
        return await page(request, conversation_id, "conversation.html", error=message)

    @router.get("/conversations/{conversation_id}/fragment")
    async def fragment(request: Request, conversation_id: str) -> Response:
        """The live part of the page (status and timeline), for live.js to swap in."""
        return await page(request, conversation_id, "_transcript.html")

    @router.post("/conversations/{conversation_id}/{action}")
    async def act(
        request: Request,
        conversation_id: str,
        action: str,
        csrf: Annotated[str, Form(max_length=128)],
        text: Annotated[str, Form(max_length=4000)] = "",
        until: Annotated[str, Form(max_length=16)] = "",
    ) -> Response:
        who = await console.current(request)
        if who is None or action not in ACTIONS:
            return RedirectResponse("/console", status_code=303)
        if not console.csrf_ok(who, csrf):
            return console.session_expired(request)
        target = f"/console/conversations/{conversation_id}"
        try:
            await _perform(console, request, who, conversation_id, action, text, until)
        except service.HandoffError as exc:
            return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
        return RedirectResponse(target, status_code=303)

    return router


async def _perform(
    console: Console,
    request: Request,
    who: Who,
    conversation_id: str,
    action: str,
    text: str,
    until: str,
) -> None:
    db = console.get_db(request)
    actor = who.actor
    if action == "claim":
        await service.claim(db, conversation_id, actor)
    elif action == "resolve":
        await service.resolve(db, conversation_id, actor)
        console.on_reply(request)  # the satisfaction survey goes out
    elif action == "return-to-bot":
        await service.return_to_bot(db, conversation_id, actor)
    elif action == "note":
        await service.note(db, conversation_id, actor, text=text)
    elif action == "snooze":
        end = snooze_until(until, now=utcnow(), tz=console.tz(request))
        if end is None:
            raise service.HandoffError(422, "invalid_time", "unknown snooze choice")
        await service.snooze(db, conversation_id, actor, until=end)
    elif action == "unsnooze":
        await service.unsnooze(db, conversation_id, actor)
    else:
        result = await service.reply(db, conversation_id, actor, text=text, source="console")
        if result.message is not None:
            console.on_reply(request)
