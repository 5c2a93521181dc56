"""Web chat: visitor sessions with a secret token, messages in as InboundEvents, out by polling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import DeliveryReceipt, InboundEvent, OutboundMessage
from crm_core import customers
from crm_core.db import Database
from crm_core.models import WebchatSession
from crm_core.types import new_id, utcnow

STATIC_DIR = Path(__file__).with_name("webchat_static")
CHANNEL = "webchat"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Visitor:
    """An authenticated web chat session."""

    session_id: str
    customer_id: str
    language: str | None


class WebchatAdapter:
    """Outbound web chat messages wait in the database until the visitor's page polls them."""

    name = CHANNEL
    max_sends_per_second = None

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        return DeliveryReceipt(external_id=None, status="sent")

    async def close(self) -> None:
        return None


async def start_session(
    db: Database,
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
    language: str | None,
    region: str,
) -> tuple[Visitor, str]:
    """Create the visitor's customer and identity now, so the page can show who they are."""
    token = secrets.token_urlsafe(32)
    session_id = new_id()
    async with db.transaction() as session:
        resolved = await customers.resolve_identity(
            session, channel=CHANNEL, external_id=session_id, display_name=name, language=language
        )
        if phone or email:
            resolved = await _add_visitor_details(session, resolved, name, phone, email, region)
        session.add(
            WebchatSession(
                id=session_id,
                token_hash=_digest(token),
                customer_id=resolved.customer.id,
                language=language,
            )
        )
    return Visitor(session_id, resolved.customer.id, language), token


async def authenticate(db: Database, session_id: str, token: str | None) -> Visitor | None:
    """The session if the token matches (constant-time), else None."""
    if not token:
        return None
    async with db.reading() as session:
        row = await session.get(WebchatSession, session_id)
    expected = row.token_hash if row is not None else _digest("no-such-session")
    if row is None or not hmac.compare_digest(expected, _digest(token)):
        return None
    return Visitor(row.id, row.customer_id, row.language)


async def leave_contact(
    db: Database,
    visitor: Visitor,
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
    region: str,
) -> str:
    """Store the details; a match with a known verified customer joins the visitor to them."""
    async with db.transaction() as session:
        resolved = await customers.resolve_identity(
            session, channel=CHANNEL, external_id=visitor.session_id
        )
        resolved = await _add_visitor_details(session, resolved, name, phone, email, region)
        if name:
            resolved.customer.name = resolved.customer.name or name
        row = await session.get_one(WebchatSession, visitor.session_id)
        row.customer_id = resolved.customer.id
        return resolved.customer.id


async def _add_visitor_details(
    session: AsyncSession,
    resolved: customers.Resolved,
    name: str | None,
    phone: str | None,
    email: str | None,
    region: str,
) -> customers.Resolved:
    """Typed-in details are unverified, but join a customer whose verified detail they match."""
    return await customers.add_contact_details(
        session,
        resolved,
        phone=phone,
        email=email,
        name=name,
        verified=False,
        source=CHANNEL,
        region=region,
        join_on_verified_match=True,
    )


def message_event(
    visitor: Visitor, *, text: str, client_message_id: str | None, display_name: str | None
) -> InboundEvent:
    """A visitor's message as an InboundEvent; the client id makes a retried POST a duplicate."""
    client_id = client_message_id or new_id()
    key = f"{visitor.session_id}:{client_id}"
    return InboundEvent(
        channel=CHANNEL,
        external_user_id=visitor.session_id,
        external_event_id=key,
        external_message_id=key,
        text=text,
        display_name=display_name,
        language_hint=visitor.language,
        occurred_at=utcnow(),
    )
