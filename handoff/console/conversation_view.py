"""The conversation page: timeline with messages, customer card, QA, and the agent's actions.

Actions call the same `handoff.service` functions as Slack and the REST API, so ownership
rules hold on every path; an error comes back on the page as a sentence, never a stack trace.
Opening the page is audit-logged (the live fragment it polls is not: it is the same view).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.audit import transcript_viewed
from crm_core.enums import Role
from crm_core.models import Agent, Conversation
from crm_core.qa import corrections_in
from crm_core.queries import transcript_of
from crm_core.types import utcnow
from handoff import service
from handoff.card import Card, read_card
from handoff.console.i18n import Translate, translator
from handoff.console.live import conversation_fingerprint
from handoff.console.qa_view import QaPanel, allowed_intents, load_panel
from handoff.console.timeline import Entry, Words, delivery_label, merge, status_label
from handoff.console.web import Console, Who
from handoff.masking import masked_card
from handoff.times import Times, conversation_times

ACTIONS = ("claim", "reply", "note", "resolve", "return-to-bot", "snooze", "unsnooze")
# Error codes that come back as `?error=` and the phrase each is shown as.
ERRORS = {
    "already_claimed": "conversation_error_already_claimed",
    "illegal_transition": "conversation_error_state",
    "conflict": "conversation_error_state",
    "empty_reply": "conversation_error_empty",
    "invalid_time": "conversation_error_snooze_time",
    "not_found": "conversation_error_gone",
    "invalid_score": "conversation_error_qa_score",
    "unknown_item": "conversation_error_qa_score",
    "notes_too_long": "conversation_error_qa_notes",
    "unknown_intent": "conversation_error_intent",
    "not_a_bot_turn": "conversation_error_not_bot_turn",
}
SNOOZES = (
    ("30m", "conversation_snooze_30m"),
    ("1h", "conversation_snooze_1h"),
    ("4h", "conversation_snooze_4h"),
    ("tomorrow", "conversation_snooze_tomorrow"),
)
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
    corrections: dict[str, str] = field(default_factory=dict)  # message id -> correct intent


async def load_view(
    session: AsyncSession,
    conversation_id: str,
    *,
    t: Translate,
    tz: ZoneInfo,
    with_corrections: bool = False,
) -> View | None:
    """The transcript of one conversation in the reader's language (None: no such one)."""
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
    words = Words(t=t, tz=tz, agent_names=names)
    entries = merge(messages, events, customer_name=card.name, words=words)
    assigned = names.get(conversation.assigned_agent_id or "")
    corrections = await corrections_in(session, conversation_id) if with_corrections else {}
    return View(conversation, card, entries, assigned, version, corrections)


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
        t = translator(console.language(request))
        reviewer = who.at_least(Role.SUPERVISOR)
        full = template == "conversation.html"
        times: Times | None = None
        panel: QaPanel | None = None
        db = console.get_db(request)
        async with db.reading() as session:
            view = await load_view(
                session, conversation_id, t=t, tz=console.tz(request), with_corrections=reviewer
            )
            if view is not None and full:
                times = await conversation_times(session, conversation_id)
                panel = await load_panel(session, who, view.conversation)
        if view is None:
            return console.not_found(request, who)
        if full:
            async with db.transaction() as session:
                transcript_viewed(
                    session,
                    actor_type="agent",
                    actor_id=who.agent.id,
                    conversation_id=conversation_id,
                    via="console",
                )
        if console.masks_contacts(request, who):
            view = replace(view, card=masked_card(view.card))
        return console.render(
            request,
            template,
            who=who,
            view=view,
            conversation=view.conversation,
            card=view.card,
            times=times,
            snoozes=SNOOZES,
            qa=panel,
            reviewer=reviewer,
            intents=allowed_intents() if reviewer else (),
            status_word=lambda status: status_label(status, t),
            delivery_word=lambda status: delivery_label(status, t),
            **extra,
        )

    @router.get("/conversations/{conversation_id}")
    async def transcript(
        request: Request, conversation_id: str, error: str | None = None
    ) -> Response:
        problem = ERRORS.get(error, "conversation_error_other") if error else None
        return await page(request, conversation_id, "conversation.html", error=problem)

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
