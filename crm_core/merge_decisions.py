"""A human's answer to a merge suggestion: accept (merge the two) or reject (close it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.merges import MergeRefused, merge_customers
from crm_core.models import Customer, CustomerMerge, MergeSuggestion
from crm_core.types import utcnow


class SuggestionGone(MergeRefused):
    """No open suggestion by that id (for that customer): unknown, or already decided."""


async def open_suggestion(
    session: AsyncSession, suggestion_id: str, *, customer_id: str | None = None
) -> MergeSuggestion:
    """The suggestion, when it is open and (if given) involves `customer_id`."""
    suggestion = await session.get(MergeSuggestion, suggestion_id)
    if suggestion is None or (
        customer_id is not None
        and customer_id not in (suggestion.customer_id, suggestion.other_customer_id)
    ):
        raise SuggestionGone("no such merge suggestion")
    if suggestion.status != "open":
        raise SuggestionGone(f"the suggestion is already {suggestion.status}")
    return suggestion


async def accept_suggestion(
    session: AsyncSession,
    suggestion_id: str,
    *,
    actor_type: str,
    actor_id: str | None,
    customer_id: str | None = None,
) -> CustomerMerge:
    """Merge the two customers; the older one stays, so its id (and links to it) live on."""
    suggestion = await open_suggestion(session, suggestion_id, customer_id=customer_id)
    first = await session.get(Customer, suggestion.customer_id)
    second = await session.get(Customer, suggestion.other_customer_id)
    if first is None or second is None:
        raise SuggestionGone("one of the two customers no longer exists")
    target, source = sorted((first, second), key=lambda c: (c.created_at, c.id))
    return await merge_customers(
        session,
        source_id=source.id,
        target=target,
        reason=f"suggestion accepted ({suggestion.kind})",
        actor_type=actor_type,
        actor_id=actor_id,
    )


async def reject_suggestion(
    session: AsyncSession, suggestion_id: str, *, customer_id: str | None = None
) -> MergeSuggestion:
    """Close the suggestion: they are two people; nothing moves."""
    suggestion = await open_suggestion(session, suggestion_id, customer_id=customer_id)
    suggestion.status = "dismissed"
    suggestion.decided_at = utcnow()
    return suggestion
