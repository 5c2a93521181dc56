"""The printable transcript: an HTML page made for paper, and the same as a PDF.

Both are exports of a whole conversation, so they are for supervisors and admins, and every
one is audit-logged before it is sent. The PDF needs a Unicode font (see transcript_pdf).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from crm_core.audit import transcript_viewed
from crm_core.enums import Role
from crm_core.reporting.transcript_pdf import (
    FontMissing,
    PdfLine,
    PdfTranscript,
    find_font,
    render_pdf,
)
from crm_core.types import utcnow
from handoff.console.conversation_view import View, load_view
from handoff.console.i18n import Translate, translator
from handoff.console.timeline import Entry, delivery_label, local_time, status_label
from handoff.console.web import Console, Who

STAMP = "%Y-%m-%d %H:%M:%S"
Clock = Callable[[object], str]


def facts(view: View, t: Translate, when: Clock) -> list[tuple[str, str]]:
    """The header of a printed transcript: who, where, when, and its state."""
    conversation = view.conversation
    rows = [
        (t("conversation_print_customer"), view.card.name),
        (t("conversation_print_channel"), conversation.channel),
        (t("conversation_print_status"), status_label(conversation.status, t)),
        (t("conversation_print_started"), when(conversation.created_at)),
        (t("conversation_print_last_message"), when(conversation.last_message_at) or "—"),
    ]
    if conversation.resolved_at:
        rows.append((t("conversation_print_resolved"), when(conversation.resolved_at)))
    if view.assigned_name:
        rows.append((t("conversation_print_agent"), view.assigned_name))
    rows.append((t("conversation_print_id"), conversation.id))
    rows.append((t("conversation_print_printed"), when(utcnow())))
    return rows


def message_detail(entry: Entry, t: Translate) -> str:
    """Channel, delivery status and, on a customer message, what the bot understood."""
    message = entry.message
    assert message is not None
    parts = [message.channel, delivery_label(message.status, t)]
    if message.author_type == "customer" and message.intent:
        parts.append(f"{message.intent} {message.intent_confidence or 0:.2f}")
    return " · ".join(parts)


def pdf_lines(view: View, t: Translate, when: Clock) -> list[PdfLine]:
    lines = []
    for entry in view.entries:
        message = entry.message
        if message is not None:
            text = message.text
            for item in message.attachments:
                kind, name = item.get("kind", "file"), item.get("name") or ""
                text += f"\n[{kind}] {name}".rstrip()
            author = entry.author
            if author != entry.role:
                author = f"{author} ({entry.role})"
            lines.append(PdfLine(when(entry.at), author, text, message_detail(entry, t)))
        elif entry.is_note:
            author = f"{t('conversation_internal_note')} · {entry.actor}"
            lines.append(PdfLine(when(entry.at), author, entry.text, kind="note"))
        else:
            lines.append(PdfLine(when(entry.at), entry.actor, entry.text, kind="event"))
    return lines


def _pdf_font_setting(request: Request) -> str | None:
    settings = getattr(getattr(request.app.state, "runtime", None), "settings", None)
    value = getattr(settings, "pdf_font", None)
    return str(value) if value else None


def print_router(console: Console) -> APIRouter:
    router = APIRouter()

    async def readable(request: Request, conversation_id: str) -> tuple[Who, View] | Response:
        """The signed-in supervisor and the transcript, or the response refusing them."""
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not who.at_least(Role.SUPERVISOR):
            return console.forbidden(request, who)
        t = translator(console.language(request))
        async with console.get_db(request).reading() as session:
            view = await load_view(session, conversation_id, t=t, tz=console.tz(request))
        if view is None:
            return console.not_found(request, who)
        return who, view

    async def audit(request: Request, who: Who, conversation_id: str, via: str) -> None:
        async with console.get_db(request).transaction() as session:
            transcript_viewed(
                session,
                actor_type="agent",
                actor_id=who.agent.id,
                conversation_id=conversation_id,
                via=via,
            )

    @router.get("/conversations/{conversation_id}/print")
    async def print_page(request: Request, conversation_id: str) -> Response:
        """The transcript laid out for paper (the browser's Print turns it into pages)."""
        found = await readable(request, conversation_id)
        if isinstance(found, Response):
            return found
        who, view = found
        t = translator(console.language(request))
        tz = console.tz(request)
        await audit(request, who, conversation_id, "print")
        return console.render(
            request,
            "print.html",
            who=who,
            view=view,
            conversation=view.conversation,
            facts=facts(view, t, lambda value: local_time(value, tz, STAMP)),
            detail=lambda entry: message_detail(entry, t),
        )

    @router.get("/conversations/{conversation_id}/transcript.pdf")
    async def pdf(request: Request, conversation_id: str) -> Response:
        """The same transcript as a PDF file."""
        found = await readable(request, conversation_id)
        if isinstance(found, Response):
            return found
        who, view = found
        t = translator(console.language(request))
        configured = _pdf_font_setting(request)
        try:
            font = find_font(configured)
        except FontMissing:
            problem = "conversation_print_bad_font" if configured else "conversation_print_no_font"
            return PlainTextResponse(t(problem), status_code=503)
        tz = console.tz(request)

        def when(value: object) -> str:
            return local_time(value, tz, STAMP)

        document = PdfTranscript(
            title=t("conversation_print_title", name=view.card.name),
            facts=facts(view, t, when),
            lines=pdf_lines(view, t, when),
            page_label=t("conversation_print_page"),
        )
        try:
            data = await asyncio.to_thread(render_pdf, document, font=font)
        except FontMissing:
            return PlainTextResponse(t("conversation_print_bad_font"), status_code=503)
        await audit(request, who, conversation_id, "pdf")  # before the first byte leaves
        filename = f"transcript-{view.conversation.id}.pdf"
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
