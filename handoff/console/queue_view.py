"""The agents' queue: who waits, for how long, and whose first response is overdue."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from crm_core.types import utcnow
from handoff.console.live import queue_fingerprint
from handoff.console.web import Console
from handoff.queue import load_queue


def queue_router(console: Console) -> APIRouter:
    router = APIRouter()

    async def render(request: Request, template: str, mine: bool) -> Response:
        who = await console.current(request)
        if who is None:
            if template.startswith("_"):
                return PlainTextResponse("log in first", status_code=401)
            return RedirectResponse("/console", status_code=303)
        db = console.get_db(request)
        now = utcnow()
        async with db.reading() as session:
            version = await queue_fingerprint(session)
        items = await load_queue(db, now=now)
        if mine:
            items = [item for item in items if item.assigned_agent_id == who.agent.id]
        return console.render(
            request,
            template,
            who=who,
            items=items,
            mine=mine,
            now=now,
            version=version,
            waiting=sum(1 for item in items if item.status == "waiting_agent"),
        )

    @router.get("/queue")
    async def queue(request: Request, mine: bool = False) -> Response:
        return await render(request, "queue.html", mine)

    @router.get("/queue/fragment")
    async def fragment(request: Request, mine: bool = False) -> Response:
        """The queue table alone, for live.js to swap in."""
        return await render(request, "_queue.html", mine)

    return router
