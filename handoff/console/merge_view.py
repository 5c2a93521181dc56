"""Merge decisions in the console (supervisor and up): accept or reject a suggestion, undo a
merge, and the list of open suggestions.

Every action sits under the customer it concerns (`/customers/{id}/...`) and checks that the
suggestion or merge belongs to that customer, so no id reaches another customer's objects.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from crm_core.enums import Role
from crm_core.merge_decisions import SuggestionGone, accept_suggestion, reject_suggestion
from crm_core.merges import MergeRefused, unmerge
from crm_core.models import Customer, CustomerMerge, MergeSuggestion
from handoff.console.customer_data import shown_contact
from handoff.console.web import Console, Who

LIST_PAGE = "/console/merge-suggestions"
LIST_CAP = 200


def customer_url(customer_id: str, **query: str) -> str:
    """The customer page, with what a redirect back announces (`done=merged`...)."""
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return f"/console/customers/{customer_id}" + (f"?{suffix}" if suffix else "")


def _to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def merge_router(console: Console) -> APIRouter:
    router = APIRouter()

    async def supervisor(request: Request, csrf: str | None) -> tuple[Who | None, Response]:
        who = await console.current(request)
        if who is None:
            return None, RedirectResponse("/console", status_code=303)
        if not who.at_least(Role.SUPERVISOR):
            return None, console.forbidden(request, who)
        if csrf is not None and not console.csrf_ok(who, csrf):
            return None, console.session_expired(request)
        return who, Response(status_code=204)

    @router.get("/merge-suggestions")
    async def suggestions(request: Request) -> Response:
        """Open suggestions, newest first, with both customers' names."""
        who, refused = await supervisor(request, None)
        if who is None:
            return refused
        async with console.get_db(request).reading() as session:
            rows = (
                await session.scalars(
                    select(MergeSuggestion)
                    .where(MergeSuggestion.status == "open")
                    .order_by(MergeSuggestion.created_at.desc(), MergeSuggestion.id.desc())
                    .limit(LIST_CAP)
                )
            ).all()
            ids = {s.customer_id for s in rows} | {s.other_customer_id for s in rows}
            named = await session.execute(
                select(Customer.id, Customer.name).where(Customer.id.in_(ids))
            )
            names = {customer_id: name for customer_id, name in named.all()}
        masked = console.masks_contacts(request, who)
        return console.render(
            request,
            "merges.html",
            who=who,
            rows=[(s, shown_contact(s.kind, s.value, masked)) for s in rows],
            names=names,
            capped=len(rows) == LIST_CAP,
        )

    @router.post("/customers/{customer_id}/suggestions/{suggestion_id}/{decision}")
    async def decide(
        request: Request,
        customer_id: str,
        suggestion_id: str,
        decision: str,
        csrf: Annotated[str, Form(max_length=128)],
        back: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        who, refused = await supervisor(request, csrf)
        if who is None:
            return refused
        if decision not in ("accept", "reject"):
            return console.not_found(request, who)
        async with console.get_db(request).transaction() as session:
            found = await session.get(MergeSuggestion, suggestion_id)
            if found is None or customer_id not in (found.customer_id, found.other_customer_id):
                return console.not_found(request, who)
            try:
                if decision == "accept":
                    record = await accept_suggestion(
                        session,
                        suggestion_id,
                        actor_type="agent",
                        actor_id=who.agent.id,
                        customer_id=customer_id,
                    )
                    landing, done = record.target_id, "merged"
                else:
                    await reject_suggestion(session, suggestion_id, customer_id=customer_id)
                    landing, done = customer_id, "rejected"
            except SuggestionGone:
                landing, done = customer_id, ""
            except MergeRefused:
                return _to(customer_url(customer_id, error="refused"))
        if back == "list":
            return RedirectResponse(LIST_PAGE, status_code=303)
        if not done:
            return RedirectResponse(customer_url(customer_id, error="gone"), status_code=303)
        return RedirectResponse(customer_url(landing, done=done), status_code=303)

    @router.post("/customers/{customer_id}/merges/{merge_id}/unmerge")
    async def undo(
        request: Request,
        customer_id: str,
        merge_id: str,
        csrf: Annotated[str, Form(max_length=128)],
    ) -> Response:
        """Give the merged-away customer back what came from them."""
        who, refused = await supervisor(request, csrf)
        if who is None:
            return refused
        async with console.get_db(request).transaction() as session:
            record = await session.get(CustomerMerge, merge_id)
            if record is None or record.target_id != customer_id:
                return console.not_found(request, who)
            try:
                await unmerge(session, merge_id, actor_type="agent", actor_id=who.agent.id)
            except MergeRefused:
                return _to(customer_url(customer_id, error="refused"))
        return RedirectResponse(customer_url(customer_id, done="unmerged"), status_code=303)

    return router
