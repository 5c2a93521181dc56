"""Merging two customers into one, audited and reversible; and suggestions for a human."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import timeline
from crm_core.models import (
    ContactPoint,
    Conversation,
    Customer,
    CustomerMerge,
    Identity,
    MergeSuggestion,
    Message,
    Purchase,
    TimelineEvent,
    WebchatSession,
)
from crm_core.types import utcnow

# Every table whose rows belong to a customer; a merge moves them, an unmerge moves them back.
OWNED = {
    "contact_points": ContactPoint,
    "identities": Identity,
    "conversations": Conversation,
    "messages": Message,
    "timeline_events": TimelineEvent,
    "webchat_sessions": WebchatSession,
    "purchases": Purchase,
}
_SNAPSHOT_FIELDS = ("name", "language", "lifecycle_stage", "tags", "attributes", "created_at")


class MergeRefused(ValueError):
    """The merge or unmerge asked for cannot be done (same customer, already undone...)."""


async def merge_customers(
    session: AsyncSession,
    *,
    source_id: str,
    target: Customer,
    reason: str,
    actor_type: str,
    actor_id: str | None = None,
) -> CustomerMerge:
    """Move every row of `source` onto `target`, record what moved, then drop `source`."""
    if source_id == target.id:
        raise MergeRefused("a customer cannot be merged into itself")
    source = await session.get(Customer, source_id)
    if source is None:
        raise MergeRefused("no such customer to merge")
    if source.erased_at is not None or target.erased_at is not None:
        raise MergeRefused("an erased customer cannot be merged")
    await session.flush()
    dropped = await _drop_duplicate_points(session, source_id, target.id)
    moved: dict[str, Any] = {"dropped_points": dropped}
    for table, model in OWNED.items():
        ids = list(
            (
                await session.execute(select(model.id).where(model.customer_id == source_id))
            ).scalars()
        )
        moved[table] = ids
        if ids:
            await session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(customer_id=target.id)
                .execution_options(synchronize_session="fetch")
            )
    record = CustomerMerge(
        target_id=target.id,
        source_id=source_id,
        source_snapshot={"id": source.id, **_snapshot(source)},
        moved=moved,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )
    session.add(record)
    target.name = target.name or source.name
    await _close_suggestions(session, source_id, target.id, status="merged")
    await session.delete(source)
    await session.flush()
    timeline.record(
        session,
        customer_id=target.id,
        kind="customers_merged",
        actor_type=actor_type,
        actor_id=actor_id,
        data={"merge_id": record.id, "merged_customer_id": source_id, "reason": reason},
    )
    return record


async def unmerge(
    session: AsyncSession, merge_id: str, *, actor_type: str, actor_id: str | None = None
) -> Customer:
    """Recreate the merged-away customer and give back what came from them (and since then)."""
    record = await session.get(CustomerMerge, merge_id)
    if record is None:
        raise MergeRefused("no such merge")
    if record.unmerged_at is not None:
        raise MergeRefused("this merge was already undone")
    target = await session.get(Customer, record.target_id)
    if target is not None and target.erased_at is not None:
        raise MergeRefused("the customer was erased; the merge cannot be undone")
    snapshot = dict(record.source_snapshot)
    restored = Customer(id=snapshot.pop("id"), **_restore_fields(snapshot))
    session.add(restored)
    await session.flush()
    moved = record.moved
    identity_ids = moved.get("identities", [])
    # Conversations that came in later on the returned identities go back with them.
    conversation_ids = set(moved.get("conversations", [])) | set(
        (
            await session.execute(
                select(Conversation.id).where(Conversation.identity_id.in_(identity_ids))
            )
        ).scalars()
    )
    for table, model in OWNED.items():
        ids = set(moved.get(table, []))
        stmt = update(model).values(customer_id=restored.id)
        if table in ("messages", "timeline_events") and conversation_ids:
            stmt = stmt.where(model.id.in_(ids) | model.conversation_id.in_(conversation_ids))
        elif table == "conversations":
            stmt = stmt.where(model.id.in_(conversation_ids))
        else:
            stmt = stmt.where(model.id.in_(ids))
        await session.execute(stmt.execution_options(synchronize_session="fetch"))
    for point in moved.get("dropped_points", []):
        session.add(ContactPoint(customer_id=restored.id, **point))
    record.unmerged_at = utcnow()
    for customer_id in (record.target_id, restored.id):
        timeline.record(
            session,
            customer_id=customer_id,
            kind="customers_unmerged",
            actor_type=actor_type,
            actor_id=actor_id,
            data={"merge_id": record.id, "customer_ids": [record.target_id, restored.id]},
        )
    await session.flush()
    return restored


async def suggest(
    session: AsyncSession, *, customer_id: str, other_customer_id: str, kind: str, value: str
) -> None:
    """Record (once) that two customers share a detail that proves nothing by itself."""
    stmt = select(MergeSuggestion.id).where(
        MergeSuggestion.customer_id == customer_id,
        MergeSuggestion.other_customer_id == other_customer_id,
        MergeSuggestion.kind == kind,
        MergeSuggestion.value == value,
    )
    if (await session.execute(stmt)).first() is not None:
        return
    session.add(
        MergeSuggestion(
            customer_id=customer_id, other_customer_id=other_customer_id, kind=kind, value=value
        )
    )
    timeline.record(
        session,
        customer_id=customer_id,
        kind="merge_suggested",
        actor_type="system",
        data={"other_customer_id": other_customer_id, "matched": kind},
    )


async def _drop_duplicate_points(
    session: AsyncSession, source_id: str, target_id: str
) -> list[dict[str, Any]]:
    taken = select(ContactPoint.kind, ContactPoint.value).where(
        ContactPoint.customer_id == target_id
    )
    existing = {(k, v) for k, v in (await session.execute(taken)).all()}
    points = await session.execute(
        select(ContactPoint).where(ContactPoint.customer_id == source_id)
    )
    dropped: list[dict[str, Any]] = []
    for point in points.scalars():
        if (point.kind, point.value) in existing:
            dropped.append(
                {
                    "kind": point.kind,
                    "value": point.value,
                    "verified": False,
                    "source": point.source,
                }
            )
            await session.delete(point)
    await session.flush()
    return dropped


async def _close_suggestions(
    session: AsyncSession, first: str, second: str, *, status: str
) -> None:
    pair = (MergeSuggestion.customer_id.in_((first, second))) & (
        MergeSuggestion.other_customer_id.in_((first, second))
    )
    await session.execute(
        update(MergeSuggestion)
        .where(pair, MergeSuggestion.status == "open")
        .values(status=status, decided_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def _snapshot(customer: Customer) -> dict[str, Any]:
    values = {name: getattr(customer, name) for name in _SNAPSHOT_FIELDS}
    values["created_at"] = customer.created_at.isoformat()
    return values


def _restore_fields(snapshot: dict[str, Any]) -> dict[str, Any]:
    fields = dict(snapshot)
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return fields
