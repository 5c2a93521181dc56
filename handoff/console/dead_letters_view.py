"""GET /console/dead-letters: the events the Redis bus gave up on, and a replay form.

Supervisor and up. The page never reads the bus itself: the app injects a
`DeadLetterSource` (handoff.console.dead_letter_source); without one the bus is in-process
and there is nothing to show. Replaying is audited with ids and counts only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from crm_core.audit import audit
from crm_core.enums import Role
from handoff.console.dead_letter_source import DeadLettersUnavailable
from handoff.console.web import Console

PAGE = "/console/dead-letters"
SHOWN = 500


def dead_letters_router(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/dead-letters")
    async def dead_letters(
        request: Request,
        replayed: Annotated[int | None, Query(ge=0)] = None,
        error: Annotated[str | None, Query(max_length=20)] = None,
    ) -> Response:
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not who.at_least(Role.SUPERVISOR):
            return console.forbidden(request, who)
        source = console.get_dead_letters(request)
        page: dict[str, object] = {"who": who, "replayed": replayed, "error": error}
        if source is None:
            return console.render(request, "dead_letters.html", in_process=True, **page)
        try:
            total = await source.count()
            rows = await source.rows(SHOWN)
        except DeadLettersUnavailable:
            return console.render(request, "dead_letters.html", 503, unreachable=True, **page)
        return console.render(request, "dead_letters.html", total=total, rows=rows, **page)

    @router.post("/dead-letters/replay")
    async def replay(
        request: Request,
        csrf: Annotated[str, Form(max_length=128)],
        letter: Annotated[str, Form(max_length=64)] = "",
        everything: Annotated[str, Form(alias="all", max_length=8)] = "",
    ) -> Response:
        """Publish one dead letter (or all) again, as `omnicrm dlq replay` does; audited."""
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not console.csrf_ok(who, csrf):
            return console.session_expired(request)
        if not who.at_least(Role.SUPERVISOR):
            return console.forbidden(request, who)
        source = console.get_dead_letters(request)
        ids = None if everything else [letter.strip()] if letter.strip() else []
        if source is None or ids == []:
            return RedirectResponse(PAGE, status_code=303)
        try:
            count = await source.replay(ids)
        except LookupError:
            return RedirectResponse(f"{PAGE}?error=gone", status_code=303)
        except DeadLettersUnavailable:
            return RedirectResponse(f"{PAGE}?error=unreachable", status_code=303)
        async with console.get_db(request).transaction() as session:
            audit(
                session,
                action="dead_letters_replay",
                actor_type="agent",
                actor_id=who.agent.id,
                object_type="dead_letter",
                object_id=ids[0] if ids else None,
                data={"all": ids is None, "replayed": count},
            )
        return RedirectResponse(f"{PAGE}?replayed={count}", status_code=303)

    return router
