"""The customer 360° page, and the admin's data-subject export and erasure.

Agents may read the page (phones and e-mails masked when OMNICRM_MASK_CONTACTS is on); merge
decisions are for supervisors and up (`merge_view`); export and erasure for admins only.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crm_core.enums import Role
from crm_core.erasure import erase_customer
from crm_core.models import Customer
from crm_core.privacy import ActorRef, CustomerNotFound, export_customer
from crm_core.types import utcnow
from handoff.console.customer_data import load_profile
from handoff.console.customer_timeline import Cursor, load_timeline
from handoff.console.i18n import Translate, translator
from handoff.console.merge_view import customer_url, merge_router
from handoff.console.timeline import Words
from handoff.console.web import Console, Who

# What a redirect back to the page may announce (anything else in the URL is ignored).
DONE = ("merged", "rejected", "unmerged", "erased", "already_erased")
ERRORS = ("confirm", "gone", "refused")


def customer_router(console: Console) -> APIRouter:
    router = APIRouter()
    router.include_router(merge_router(console))

    @router.get("/customers/{customer_id}")
    async def page(
        request: Request,
        customer_id: str,
        before: str | None = None,
        done: str | None = None,
        error: str | None = None,
    ) -> Response:
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        lang = console.language(request)
        t = translator(lang)
        masked = console.masks_contacts(request, who)
        async with console.get_db(request).reading() as session:
            profile = await load_profile(
                session, customer_id, masked=masked, lang=lang, now=utcnow()
            )
            if profile is None:
                return console.not_found(request, who)
            name = _display_name(profile.customer.name, profile.erased, t)
            timeline = await load_timeline(
                session,
                customer_id,
                customer_name=name,
                words=Words(t=t, tz=console.tz(request), agent_names={}),
                before=Cursor.decode(before),
            )
        return console.render(
            request,
            "customer.html",
            who=who,
            profile=profile,
            customer=profile.customer,
            customer_name=name,
            timeline=timeline,
            older=before is not None,
            masked=masked,
            can_merge=who.at_least(Role.SUPERVISOR),
            is_admin=who.at_least(Role.ADMIN),
            done=done if done in DONE else None,
            error=error if error in ERRORS else None,
        )

    @router.post("/customers/{customer_id}/export")
    async def export(
        request: Request, customer_id: str, csrf: Annotated[str, Form(max_length=128)]
    ) -> Response:
        """The data-subject export as a JSON download (admin only, audited)."""
        who, refused = await _admin(console, request, csrf)
        if who is None:
            return refused
        async with console.get_db(request).transaction() as session:
            try:
                document = await export_customer(session, customer_id, actor=_actor(who))
            except CustomerNotFound:
                return console.not_found(request, who)
        return Response(
            json.dumps(document, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/customers/{customer_id}/erase")
    async def erase(
        request: Request,
        customer_id: str,
        csrf: Annotated[str, Form(max_length=128)],
        confirm: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        """Erase the customer's personal data once the admin typed the id (audited)."""
        who, refused = await _admin(console, request, csrf)
        if who is None:
            return refused
        if confirm.strip() != customer_id:
            async with console.get_db(request).reading() as session:
                known = await session.get(Customer, customer_id) is not None
            if not known:
                return console.not_found(request, who)
            return RedirectResponse(customer_url(customer_id, error="confirm"), status_code=303)
        async with console.get_db(request).transaction() as session:
            try:
                result = await erase_customer(session, customer_id, _actor(who))
            except CustomerNotFound:
                return console.not_found(request, who)
        done = "already_erased" if result.already_erased else "erased"
        return RedirectResponse(customer_url(customer_id, done=done), status_code=303)

    return router


def _display_name(name: str | None, erased: bool, t: Translate) -> str:
    if erased:
        return t("customer_erased_name")
    return name or t("customer_unknown")


def _actor(who: Who) -> ActorRef:
    return ActorRef(kind="agent", id=who.agent.id)


async def _admin(console: Console, request: Request, csrf: str) -> tuple[Who | None, Response]:
    """The signed-in admin with a valid form token, or the answer to give instead."""
    who = await console.current(request)
    if who is None:
        return None, RedirectResponse("/console", status_code=303)
    if not who.at_least(Role.ADMIN):
        return None, console.forbidden(request, who)
    if not console.csrf_ok(who, csrf):
        return None, console.session_expired(request)
    return who, Response(status_code=204)
