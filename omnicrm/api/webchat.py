"""The web chat's JSON endpoints, authenticated by the visitor's session token, not an API key."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from sqlalchemy import select, update

from channels import webchat
from channels.file_links import FileLinks
from conversations import inbox
from crm_core.contacts import normalize_email, normalize_phone
from crm_core.enums import Direction, MessageStatus
from crm_core.files import file_id_of
from crm_core.models import Conversation, Identity, Message
from crm_core.types import utcnow
from omnicrm.api import pagination
from omnicrm.api.deps import RuntimeDep
from omnicrm.api.errors import ApiError
from omnicrm.api.files import file_links
from omnicrm.api.schemas import (
    Page,
    WebchatContactIn,
    WebchatMessageIn,
    WebchatMessageOut,
    WebchatSessionIn,
    WebchatSessionOut,
)

router = APIRouter(prefix="/webchat", tags=["webchat"])
TokenHeader = Annotated[str | None, Header(alias="X-Webchat-Token")]
# Replies committed a moment out of order must still reach a poller: re-send a short overlap.
POLL_OVERLAP = timedelta(seconds=5)


async def _visitor(runtime: RuntimeDep, session_id: str, token: str | None) -> webchat.Visitor:
    visitor = await webchat.authenticate(runtime.db, session_id, token)
    if visitor is None:
        raise ApiError(401, "unauthorized", "unknown session or wrong X-Webchat-Token")
    return visitor


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=WebchatSessionOut)
async def create_session(body: WebchatSessionIn, runtime: RuntimeDep) -> dict[str, str]:
    """Start a visitor session; keep the token, it is shown only once."""
    visitor, token = await webchat.start_session(
        runtime.db,
        name=body.name,
        phone=body.phone,
        email=body.email,
        language=body.language,
        region=runtime.settings.default_region,
    )
    return {"session_id": visitor.session_id, "token": token, "customer_id": visitor.customer_id}


@router.post("/sessions/{session_id}/contact")
async def leave_contact(
    session_id: str, body: WebchatContactIn, runtime: RuntimeDep, token: TokenHeader = None
) -> dict[str, bool]:
    """Name, phone or e-mail from the visitor; invalid details are a 422 with the reason."""
    visitor = await _visitor(runtime, session_id, token)
    if not (body.name or body.phone or body.email):
        raise ApiError(422, "empty_contact", "give at least a name, a phone or an e-mail")
    if body.phone and normalize_phone(body.phone, region=runtime.settings.default_region) is None:
        raise ApiError(422, "invalid_phone", "phone is not a valid phone number")
    if body.email and normalize_email(body.email) is None:
        raise ApiError(422, "invalid_email", "email is not a valid e-mail address")
    await webchat.leave_contact(
        runtime.db,
        visitor,
        name=body.name,
        phone=body.phone,
        email=body.email,
        region=runtime.settings.default_region,
    )
    return {"ok": True}


@router.post("/messages", status_code=status.HTTP_202_ACCEPTED)
async def post_message(
    body: WebchatMessageIn, runtime: RuntimeDep, token: TokenHeader = None
) -> dict[str, object]:
    """Store the visitor's message in the inbox; the bot's answer arrives by polling."""
    visitor = await _visitor(runtime, body.session_id, token)
    event = webchat.message_event(
        visitor, text=body.text, client_message_id=body.client_message_id, display_name=None
    )
    stored = await inbox.receive(runtime.db, runtime.bus, [event])
    return {
        "event_id": event.external_event_id,
        "status": "received",
        "duplicate": not stored,
        "client_message_id": body.client_message_id,
    }


@router.get("/messages", response_model=Page[WebchatMessageOut])
async def poll_messages(
    runtime: RuntimeDep,
    session_id: Annotated[str, Query(max_length=64)],
    after: str | None = None,
    token: TokenHeader = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> dict[str, object]:
    """The session's messages after the cursor (oldest first); outbound ones become delivered."""
    visitor = await _visitor(runtime, session_id, token)
    stmt = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Identity, Identity.id == Conversation.identity_id)
        .where(Identity.channel == webchat.CHANNEL, Identity.external_id == visitor.session_id)
    )
    if after:
        when, _ = pagination.decode(after)
        stmt = stmt.where(Message.created_at > when - POLL_OVERLAP)
    stmt = stmt.order_by(Message.created_at, Message.id).limit(limit)
    async with runtime.db.reading() as session:
        rows = list((await session.execute(stmt)).scalars())
    await _mark_delivered(runtime, [m.id for m in rows if m.status == MessageStatus.SENT.value])
    next_cursor = pagination.encode(rows[-1].created_at, rows[-1].id) if rows else after
    links = file_links(runtime.settings)
    items = [_present(m, links) for m in rows]
    return {"items": items, "next_cursor": next_cursor}


def _files(message: Message, links: FileLinks) -> list[dict[str, object]]:
    """Stored files on the message, each with a fresh signed link (other refs are inbound
    handles the visitor's page cannot open)."""
    now = utcnow()
    found: list[dict[str, object]] = []
    for item in message.attachments or []:
        file_id = file_id_of(str(item.get("ref", "")))
        if file_id is None:
            continue
        found.append(
            {
                "name": str(item.get("name") or "file"),
                "mime_type": str(item.get("mime_type") or "application/octet-stream"),
                "size": item.get("size"),
                "kind": str(item.get("kind") or "document"),
                "url": links.url(file_id, now=now),
            }
        )
    return found


def _present(message: Message, links: FileLinks) -> dict[str, object]:
    client_id = None
    if message.direction == Direction.IN.value and message.external_id:
        client_id = message.external_id.split(":", 1)[1]
    return {
        "id": message.id,
        "direction": message.direction,
        "author_type": message.author_type,
        "author_name": message.author_name if message.author_type == "agent" else None,
        "text": message.text,
        "status": MessageStatus.DELIVERED.value
        if message.status == MessageStatus.SENT.value
        else message.status,
        "created_at": message.created_at,
        "client_message_id": client_id,
        "attachments": _files(message, links),
    }


async def _mark_delivered(runtime: RuntimeDep, ids: list[str]) -> None:
    if not ids:
        return
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.status == MessageStatus.SENT.value)
            .values(status=MessageStatus.DELIVERED.value)
        )
