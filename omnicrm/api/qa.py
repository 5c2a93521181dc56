"""QA over REST (supervisor and up): conversation reviews and NLU corrections.

`GET/POST /conversations/{id}/reviews`, `POST /messages/{id}/correction` and
`GET /nlu/corrections`. Included before the conversations router so no path is read as
another's id.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from crm_core import qa
from crm_core.auth import Principal
from crm_core.models import Conversation, NluCorrection
from nlu.builtin import shipped_training_data
from omnicrm.api import pagination
from omnicrm.api.deps import RuntimeDep, SessionDep, SupervisorDep
from omnicrm.api.errors import ApiError
from omnicrm.api.schemas import Page

router = APIRouter(tags=["qa"])
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]


@cache
def known_intents() -> frozenset[str]:
    """What a correction may name: the intents of the NLU's training data."""
    return frozenset(shipped_training_data().intents)


class ReviewIn(BaseModel):
    """Scores 0, 1 or 2 for every rubric item, and optional notes."""

    model_config = ConfigDict(extra="forbid")

    scores: dict[str, int]
    notes: str = Field(default="", max_length=qa.NOTES_MAX)


class ReviewOut(BaseModel):
    id: str
    conversation_id: str
    reviewer_id: str | None
    reviewer_name: str | None
    scores: dict[str, int]
    score: float
    notes: str
    created_at: datetime


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: str = Field(min_length=1, max_length=64)


class CorrectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    message_id: str
    conversation_id: str
    text: str
    predicted_intent: str | None
    predicted_confidence: float | None
    correct_intent: str
    reviewer_id: str | None
    created_at: datetime


def _reviewer(principal: Principal) -> qa.Reviewer:
    agent_id = principal.id if principal.kind == "agent" else None
    return qa.Reviewer(actor_type=principal.kind, actor_id=principal.id, agent_id=agent_id)


def _review_json(row: qa.ReviewRow) -> dict[str, Any]:
    review = row.review
    return {
        "id": review.id,
        "conversation_id": review.conversation_id,
        "reviewer_id": review.reviewer_id,
        "reviewer_name": row.reviewer_name,
        "scores": review.scores,
        "score": review.score or 0.0,
        "notes": review.notes,
        "created_at": review.created_at,
    }


@router.get("/conversations/{conversation_id}/reviews", response_model=Page[ReviewOut])
async def list_reviews(
    conversation_id: str, _: SupervisorDep, session: SessionDep
) -> dict[str, object]:
    """The conversation's reviews, newest first."""
    if await session.get(Conversation, conversation_id) is None:
        raise ApiError(404, "not_found", "no such conversation")
    rows = await qa.reviews_of(session, conversation_id)
    return {"items": [_review_json(row) for row in rows], "next_cursor": None}


@router.post(
    "/conversations/{conversation_id}/reviews",
    response_model=ReviewOut,
    status_code=status.HTTP_201_CREATED,
)
async def add_review(
    conversation_id: str, body: ReviewIn, principal: SupervisorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Score the conversation on the rubric (greeting, understood_need, resolution, tone,
    follow_up; each 0-2); `score` is the share of the maximum."""
    try:
        async with runtime.db.transaction() as session:
            review = await qa.add_review(
                session,
                conversation_id,
                scores=body.scores,
                notes=body.notes,
                reviewer=_reviewer(principal),
            )
    except LookupError:
        raise ApiError(404, "not_found", "no such conversation") from None
    except qa.QaError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    name = principal.name if principal.kind == "agent" else None
    return _review_json(qa.ReviewRow(review, name))


@router.post("/messages/{message_id}/correction", response_model=CorrectionOut)
async def correct_message(
    message_id: str, body: CorrectionIn, principal: SupervisorDep, runtime: RuntimeDep
) -> NluCorrection:
    """The intent this customer message should have had (again: replaces the earlier one)."""
    try:
        async with runtime.db.transaction() as session:
            return await qa.flag_message(
                session,
                message_id,
                correct_intent=body.intent,
                allowed=known_intents(),
                reviewer=_reviewer(principal),
            )
    except LookupError:
        raise ApiError(404, "not_found", "no such message") from None
    except qa.QaError as exc:
        raise ApiError(422, exc.code, str(exc)) from None


@router.get("/nlu/corrections", response_model=Page[CorrectionOut])
async def list_corrections(
    _: SupervisorDep,
    session: SessionDep,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, object]:
    """Every correction, oldest first (`since`: flagged at or after, ISO-8601 with zone)."""
    stmt = select(NluCorrection)
    if since is not None:
        if since.tzinfo is None:
            raise ApiError(422, "validation_error", "`since` needs a timezone (e.g. Z)")
        stmt = stmt.where(NluCorrection.created_at >= since)
    return await pagination.fetch(
        session, stmt, NluCorrection, cursor=cursor, limit=limit, descending=False
    )
