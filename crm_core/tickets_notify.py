"""Telling the customer what happens to their ticket, on the channel they complained on.

Told: work starts (new → in_progress), we need something from them (→ waiting_on_customer),
it is solved (→ resolved), it is reopened (resolved → in_progress). Not told: waiting →
in_progress (they have just answered us; a message would only echo) and resolved → closed
(bookkeeping: they already heard it was solved). So a normal ticket costs them two or three
messages, not one per click in the console.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.conversations import add_outbound
from crm_core.models import Conversation, Customer, Identity, Message, Ticket

_TEXTS: dict[str, dict[str, str]] = {
    "in_progress": {
        "vi": "Yêu cầu {label} của bạn đang được xử lý. Chúng tôi sẽ báo lại khi có kết quả.",
        "en": "Your request {label} is being handled. We will let you know when it is done.",
    },
    "reopened": {
        "vi": "Yêu cầu {label} đã được mở lại và đang được xử lý.",
        "en": "Your request {label} has been reopened and is being handled.",
    },
    "waiting_on_customer": {
        "vi": "Để xử lý yêu cầu {label}, chúng tôi cần thêm thông tin từ bạn. "
        "Bạn vui lòng trả lời tin nhắn này nhé.",
        "en": "To handle your request {label} we need a little more information from you. "
        "Please reply to this message.",
    },
    "resolved": {
        "vi": "Yêu cầu {label} đã được giải quyết. Nếu vấn đề vẫn còn, bạn cứ nhắn lại "
        "để chúng tôi mở lại yêu cầu nhé.",
        "en": "Your request {label} has been resolved. If the problem is still there, just "
        "reply and we will reopen it.",
    },
}


def ticket_label(ticket: Ticket) -> str:
    """The number customers and agents quote: T-000123."""
    return f"T-{ticket.number:06d}"


def notice_kind(previous: str, status: str) -> str | None:
    """Which notice a move deserves, or None for the silent ones (see the module doc)."""
    if status == "in_progress":
        return {"new": "in_progress", "resolved": "reopened"}.get(previous)
    if status in ("waiting_on_customer", "resolved"):
        return status
    return None


def notice_text(kind: str, *, label: str, language: str | None) -> str:
    texts = _TEXTS[kind]
    return texts.get(language or "vi", texts["vi"]).format(label=label)


async def tell_customer(session: AsyncSession, ticket: Ticket, *, previous: str) -> Message | None:
    """Queue the notice for this move on the ticket's conversation (else the customer's latest).

    Nothing is sent for silent moves, when the customer has no conversation, or when they have
    opted out on that channel.
    """
    kind = notice_kind(previous, ticket.status)
    if kind is None:
        return None
    conversation = await _conversation_of(session, ticket)
    if conversation is None:
        return None
    identity = await session.get(Identity, conversation.identity_id)
    if identity is not None and identity.opted_out_at is not None:
        return None
    customer = await session.get(Customer, ticket.customer_id)
    language = conversation.language or (customer.language if customer else None)
    text = notice_text(kind, label=ticket_label(ticket), language=language)
    return add_outbound(
        session,
        conversation,
        text=text,
        author_type="system",
        meta={"source": "ticket", "ticket_id": ticket.id, "notice": kind},
    )


async def _conversation_of(session: AsyncSession, ticket: Ticket) -> Conversation | None:
    if ticket.conversation_id:
        found = await session.get(Conversation, ticket.conversation_id)
        if found is not None:
            return found
    stmt = (
        select(Conversation)
        .where(Conversation.customer_id == ticket.customer_id)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
