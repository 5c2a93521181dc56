"""Merge suggestions, merging two customers, and undoing a merge (every step audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from crm_core.merges import MergeRefused, merge_customers, unmerge
from crm_core.models import Customer, CustomerMerge, MergeSuggestion
from crm_core.types import utcnow
from omnicrm.api import pagination
from omnicrm.api.deps import AgentDep, RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(tags=["merges"])


class SuggestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    other_customer_id: str
    kind: str
    value: str
    status: str
    created_at: datetime
    decided_at: datetime | None


class MergeIn(BaseModel):
    other_customer_id: str = Field(max_length=64, description="merged into the path's customer")


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    target_id: str
    source_id: str
    reason: str
    actor_type: str
    actor_id: str | None
    moved: dict[str, Any]
    merged_at: datetime
    unmerged_at: datetime | None


@router.get("/merge-suggestions", response_model=Page[SuggestionOut])
async def list_suggestions(
    _: AgentDep,
    session: SessionDep,
    status: Literal["open", "merged", "dismissed"] = "open",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Pairs of customers sharing an unverified phone or e-mail, newest first."""
    stmt = select(MergeSuggestion).where(MergeSuggestion.status == status)
    return await pagination.fetch(
        session, stmt, MergeSuggestion, cursor=cursor, limit=limit, descending=True
    )


@router.post("/merge-suggestions/{suggestion_id}/dismiss", response_model=SuggestionOut)
async def dismiss_suggestion(
    suggestion_id: str, _: SupervisorDep, runtime: RuntimeDep
) -> MergeSuggestion:
    async with runtime.db.transaction() as session:
        suggestion = await session.get(MergeSuggestion, suggestion_id)
        if suggestion is None:
            raise ApiError(404, "not_found", "no such merge suggestion")
        if suggestion.status != "open":
            raise ApiError(409, "conflict", f"the suggestion is already {suggestion.status}")
        suggestion.status = "dismissed"
        suggestion.decided_at = utcnow()
        return suggestion


@router.post("/customers/{customer_id}/merge", response_model=MergeOut)
async def merge(
    customer_id: str, body: MergeIn, who: SupervisorDep, runtime: RuntimeDep
) -> CustomerMerge:
    """Fold `other_customer_id` into this customer: identities, messages, timeline, purchases."""
    async with runtime.db.transaction() as session:
        target = await session.get(Customer, customer_id)
        if target is None:
            raise ApiError(404, "not_found", "no such customer")
        try:
            return await merge_customers(
                session,
                source_id=body.other_customer_id,
                target=target,
                reason="merged by hand",
                actor_type=who.kind,
                actor_id=who.id,
            )
        except MergeRefused as exc:
            raise ApiError(422, "merge_refused", str(exc)) from exc


@router.get("/customers/{customer_id}/merges", response_model=Page[MergeOut])
async def customer_merges(customer_id: str, _: AgentDep, session: SessionDep) -> dict[str, object]:
    """The merge audit of one customer (what was folded into it, and undone)."""
    if await session.get(Customer, customer_id) is None:
        raise ApiError(404, "not_found", "no such customer")
    stmt = (
        select(CustomerMerge)
        .where(CustomerMerge.target_id == customer_id)
        .order_by(CustomerMerge.merged_at.desc())
    )
    return {"items": list((await session.execute(stmt)).scalars()), "next_cursor": None}


@router.post("/merges/{merge_id}/unmerge")
async def undo_merge(merge_id: str, who: SupervisorDep, runtime: RuntimeDep) -> dict[str, str]:
    """Give the merged-away customer back their identities, conversations and messages."""
    async with runtime.db.transaction() as session:
        try:
            restored = await unmerge(session, merge_id, actor_type=who.kind, actor_id=who.id)
        except MergeRefused as exc:
            status = 404 if "no such" in str(exc) else 409
            raise ApiError(status, "unmerge_refused", str(exc)) from exc
        return {"restored_customer_id": restored.id}
