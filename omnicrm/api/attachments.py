"""`GET /api/v1/messages/{id}/attachments/{n}`: a customer's file, fetched safely, served inert."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channels.media import MediaRefused
from crm_core.models import Message
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep
from omnicrm.api.errors import ApiError
from omnicrm.media import fetch_attachment

router = APIRouter(tags=["messages"])


@router.get("/messages/{message_id}/attachments/{index}")
async def get_attachment(
    message_id: str,
    index: int,
    request: Request,
    _: AgentDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Downloaded as a file (never rendered inline: an SVG or HTML could carry script)."""
    message = await session.get(Message, message_id)
    if message is None or not 0 <= index < len(message.attachments):
        raise ApiError(404, "not_found", "no such attachment")
    attachment = message.attachments[index]
    await session.close()  # release the connection before a slow download
    try:
        fetched = await fetch_attachment(
            fetcher=request.app.state.media_fetcher,
            sources=request.app.state.media_sources,
            adapter=runtime.adapters.get(message.channel),
            channel=message.channel,
            attachment=attachment,
        )
    except MediaRefused as exc:
        raise ApiError(exc.status, "media_refused", exc.reason) from exc
    name = str(attachment.get("name") or f"attachment-{index}").replace('"', "")
    return Response(
        fetched.content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "X-Original-Content-Type": fetched.content_type[:100],
        },
    )
