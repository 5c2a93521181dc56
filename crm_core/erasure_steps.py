"""The table-by-table steps of an erasure (`crm_core.erasure` runs them in order).

Each step works in the caller's transaction and returns how many rows it touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.conversations import move
from crm_core.enums import ConversationStatus, InboxStatus, MessageStatus
from crm_core.erasure_scrub import Needles, scrub_data, scrub_snapshot
from crm_core.files import file_id_of
from crm_core.models import (
    Appointment,
    AutomationRun,
    Conversation,
    CustomerMerge,
    Identity,
    InboxEvent,
    MergeSuggestion,
    Message,
    NluCorrection,
    Purchase,
    QaReview,
    StoredFile,
    Ticket,
    TimelineEvent,
)
from crm_core.privacy import Actor
from crm_core.types import utcnow

ERASED_ERROR = "customer erased"
ERASED_SOURCE = "erased"


async def delete_owned(session: AsyncSession, model: Any, customer_id: str) -> int:
    found = await session.scalar(
        select(func.count()).select_from(model).where(model.customer_id == customer_id)
    )
    await session.execute(delete(model).where(model.customer_id == customer_id))
    return int(found or 0)


async def scrub_inbox_events(session: AsyncSession, customer_id: str) -> int:
    """Raw payloads of the person's handles go; a pending one is never processed."""
    rows = await session.execute(
        select(Identity.channel, Identity.external_id).where(Identity.customer_id == customer_id)
    )
    keys = [f"{channel}:{external_id}" for channel, external_id in rows.all()]
    if not keys:
        return 0
    events = list(
        await session.scalars(select(InboxEvent).where(InboxEvent.partition_key.in_(keys)))
    )
    for event in events:
        event.event = {"erased": True}
        event.partition_key = f"{event.channel}:{ERASED_SOURCE}"
        event.error = ERASED_ERROR if event.status == InboxStatus.PENDING.value else None
        if event.status == InboxStatus.PENDING.value:
            event.status = InboxStatus.FAILED.value
    return len(events)


async def anonymise_identities(session: AsyncSession, customer_id: str) -> int:
    """Handles become `erased:<id>` and opted out, so no channel can reach them again."""
    identities = list(
        await session.scalars(select(Identity).where(Identity.customer_id == customer_id))
    )
    now = utcnow()
    for identity in identities:
        identity.external_id = f"{ERASED_SOURCE}:{identity.id}"
        identity.display_name = None
        identity.username = None
        identity.opted_out_at = identity.opted_out_at or now
        identity.opt_out_source = ERASED_SOURCE
    return len(identities)


async def cancel_queued(session: AsyncSession, customer_id: str) -> int:
    """Queued replies to the person fail now, before the dispatcher picks them up."""
    queued = (Message.customer_id == customer_id) & (Message.status == MessageStatus.QUEUED.value)
    found = await session.scalar(select(func.count()).select_from(Message).where(queued))
    await session.execute(
        update(Message)
        .where(queued)
        .values(status=MessageStatus.FAILED.value, next_attempt_at=None, error=ERASED_ERROR)
        .execution_options(synchronize_session=False)
    )
    return int(found or 0)


async def delete_files(session: AsyncSession, customer_id: str) -> int:
    """Stored files sent to the person, unless another customer's message uses them too."""
    attachments = await session.scalars(
        select(Message.attachments).where(Message.customer_id == customer_id)
    )
    ids = {
        file_id
        for entries in attachments
        for entry in entries or []
        if isinstance(entry, dict) and (file_id := file_id_of(str(entry.get("ref", ""))))
    }
    removed = 0
    for file_id in ids:
        shared = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.customer_id != customer_id,
                cast(Message.attachments, String).like(f"%{file_id}%"),
            )
        )
        if not shared:
            await session.execute(delete(StoredFile).where(StoredFile.id == file_id))
            removed += 1
    return removed


async def scrub_messages(
    session: AsyncSession, customer_id: str, conversation_ids: list[str], needles: Needles
) -> int:
    """Texts, attachments and channel extras go; direction, status, intent and dates stay."""
    mine = or_(Message.customer_id == customer_id, Message.conversation_id.in_(conversation_ids))
    message_ids = list(await session.scalars(select(Message.id).where(mine)))
    await session.execute(
        delete(NluCorrection).where(
            or_(
                NluCorrection.message_id.in_(message_ids),
                NluCorrection.conversation_id.in_(conversation_ids),
            )
        )
    )
    errors = await session.execute(
        select(Message.id, Message.error).where(mine, Message.error.is_not(None))
    )
    personal_errors = [row_id for row_id, error in errors.all() if needles.found_in(error)]
    await session.execute(
        update(Message)
        .where(mine)
        .values(text="", search_text="", attachments=[], meta={}, external_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Message)
        .where(mine, Message.author_type == "customer")
        .values(author_name=None, author_id=None)
        .execution_options(synchronize_session=False)
    )
    if personal_errors:
        await session.execute(
            update(Message)
            .where(Message.id.in_(personal_errors))
            .values(error=ERASED_ERROR)
            .execution_options(synchronize_session=False)
        )
    return len(message_ids)


async def close_conversations(session: AsyncSession, customer_id: str, actor: Actor) -> int:
    """Subjects and bot memory go; an open conversation is resolved, out of every queue."""
    conversations = list(
        await session.scalars(select(Conversation).where(Conversation.customer_id == customer_id))
    )
    for conversation in conversations:
        conversation.subject = None
        conversation.bot_state = {}
        if conversation.status != ConversationStatus.RESOLVED.value:
            move(
                session,
                conversation,
                ConversationStatus.RESOLVED,
                actor_type=actor.kind,
                actor_id=actor.id,
                reason="customer_erased",
            )
    ids = [c.id for c in conversations]
    if ids:
        await session.execute(
            update(QaReview).where(QaReview.conversation_id.in_(ids)).values(notes="")
        )
    return len(conversations)


async def scrub_tickets(session: AsyncSession, customer_id: str) -> int:
    tickets = list(await session.scalars(select(Ticket).where(Ticket.customer_id == customer_id)))
    for ticket in tickets:
        ticket.subject = ""
        ticket.description = ""
        ticket.contact = None
        ticket.order_id = None
    return len(tickets)


async def scrub_appointments(session: AsyncSession, customer_id: str) -> int:
    rows = list(
        await session.scalars(select(Appointment).where(Appointment.customer_id == customer_id))
    )
    for appointment in rows:
        appointment.notes = None
    return len(rows)


async def scrub_purchases(session: AsyncSession, customer_id: str) -> int:
    """Amounts and dates stay for revenue figures; what and the order number go."""
    rows = list(await session.scalars(select(Purchase).where(Purchase.customer_id == customer_id)))
    for purchase in rows:
        purchase.description = ""
        purchase.items = []
        purchase.external_id = None
    return len(rows)


async def scrub_timeline(session: AsyncSession, customer_id: str, needles: Needles) -> int:
    events = list(
        await session.scalars(
            select(TimelineEvent).where(TimelineEvent.customer_id == customer_id)
        )
    )
    for event in events:
        event.data = scrub_data(event.data, needles)
    return len(events)


async def close_suggestions(session: AsyncSession, customer_id: str) -> int:
    """Open suggestions close; the matched phone or e-mail is not kept on any of them."""
    rows = list(
        await session.scalars(
            select(MergeSuggestion).where(
                or_(
                    MergeSuggestion.customer_id == customer_id,
                    MergeSuggestion.other_customer_id == customer_id,
                )
            )
        )
    )
    now = utcnow()
    for suggestion in rows:
        suggestion.value = f"{ERASED_SOURCE}:{suggestion.id}"
        if suggestion.status == "open":
            suggestion.status = "dismissed"
            suggestion.decided_at = now
    return len(rows)


async def scrub_merges(session: AsyncSession, customer_id: str) -> None:
    """Merge records keep who and when, not the merged person's details."""
    rows = await session.scalars(
        select(CustomerMerge).where(
            or_(CustomerMerge.target_id == customer_id, CustomerMerge.source_id == customer_id)
        )
    )
    for record in rows:
        record.source_snapshot = scrub_snapshot(record.source_snapshot)
        record.moved = {**record.moved, "dropped_points": []}


async def scrub_automation(session: AsyncSession, customer_id: str, needles: Needles) -> None:
    rows: Iterable[AutomationRun] = await session.scalars(
        select(AutomationRun).where(AutomationRun.customer_id == customer_id)
    )
    for run in rows:
        run.data = scrub_data(run.data, needles)
