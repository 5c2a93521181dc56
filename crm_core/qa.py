"""Quality review of conversations, and the bot turns reviewers mark as misunderstood.

A review scores a conversation on a short rubric (each item 0, 1 or 2; the score is the share
of the maximum) with notes. A correction says which intent a customer message should have had;
there is one per message, so flagging again replaces the earlier answer (and its time).
Corrections become Rasa training data (`omnicrm nlu corrections export`). The caller passes the
intent names the NLU knows (crm_core does not import nlu).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.audit import audit
from crm_core.enums import Role
from crm_core.models import Agent, Conversation, Message, NluCorrection, QaReview
from crm_core.types import utcnow

RUBRIC: tuple[str, ...] = ("greeting", "understood_need", "resolution", "tone", "follow_up")
MAX_POINTS = 2
NOTES_MAX = 4000


class QaError(ValueError):
    """A review or correction that cannot be accepted; `code` is stable for APIs and pages."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Reviewer:
    """Who submits: a console user (`agent_id` set) or an API key (only in the audit log)."""

    actor_type: str
    actor_id: str | None
    agent_id: str | None = None


@dataclass(frozen=True)
class ReviewRow:
    """A review as pages and the API show it, with the reviewer's name."""

    review: QaReview
    reviewer_name: str | None

    @property
    def percent(self) -> int:
        return round((self.review.score or 0.0) * 100)


def checked_scores(scores: Mapping[str, object]) -> dict[str, int]:
    """The rubric's scores; every item must be there, each 0, 1 or 2 (QaError otherwise)."""
    unknown = sorted(set(scores) - set(RUBRIC))
    if unknown:
        raise QaError("unknown_item", f"not rubric items: {', '.join(unknown)}")
    checked: dict[str, int] = {}
    for item in RUBRIC:
        value = scores.get(item)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POINTS:
            raise QaError("invalid_score", f"{item} needs a score of 0, 1 or 2")
        checked[item] = value
    return checked


def score_of(points: Mapping[str, int]) -> float:
    """The share of the rubric's maximum, 0..1."""
    return sum(points[item] for item in RUBRIC) / (MAX_POINTS * len(RUBRIC))


def may_read_reviews(*, role: Role, viewer_id: str, assigned_agent_id: str | None) -> bool:
    """Supervisors read every review; an agent only those of conversations assigned to them."""
    return role.allows(Role.SUPERVISOR) or (
        assigned_agent_id is not None and assigned_agent_id == viewer_id
    )


async def add_review(
    session: AsyncSession,
    conversation_id: str,
    *,
    scores: Mapping[str, object],
    notes: str,
    reviewer: Reviewer,
) -> QaReview:
    """Store a review (LookupError when the conversation does not exist) and audit it."""
    points = checked_scores(scores)
    score = score_of(points)
    if len(notes) > NOTES_MAX:
        raise QaError("notes_too_long", f"notes are limited to {NOTES_MAX} characters")
    if await session.get(Conversation, conversation_id) is None:
        raise LookupError(conversation_id)
    review = QaReview(
        conversation_id=conversation_id,
        reviewer_id=reviewer.agent_id,
        scores=points,
        score=score,
        notes=notes.strip(),
    )
    session.add(review)
    await session.flush()
    audit(
        session,
        action="qa_review",
        actor_type=reviewer.actor_type,
        actor_id=reviewer.actor_id,
        object_type="conversation",
        object_id=conversation_id,
        data={"review_id": review.id, "score": round(score, 4)},
    )
    return review


async def reviews_of(session: AsyncSession, conversation_id: str) -> list[ReviewRow]:
    """A conversation's reviews, newest first."""
    rows = await session.execute(
        select(QaReview, Agent.name)
        .outerjoin(Agent, Agent.id == QaReview.reviewer_id)
        .where(QaReview.conversation_id == conversation_id)
        .order_by(QaReview.created_at.desc(), QaReview.id.desc())
    )
    return [ReviewRow(review, name) for review, name in rows.all()]


async def flag_message(
    session: AsyncSession,
    message_id: str,
    *,
    correct_intent: str,
    allowed: Collection[str],
    reviewer: Reviewer,
) -> NluCorrection:
    """Record the intent a customer message should have had (LookupError: no such message)."""
    if correct_intent not in allowed:
        raise QaError("unknown_intent", f"{correct_intent!r} is not an intent the NLU knows")
    message = await session.get(Message, message_id)
    if message is None:
        raise LookupError(message_id)
    if message.author_type != "customer" or not message.intent:
        raise QaError("not_a_bot_turn", "only customer messages the bot classified can be flagged")
    correction = await _upsert(session, message, correct_intent, reviewer.agent_id)
    audit(
        session,
        action="nlu_correction",
        actor_type=reviewer.actor_type,
        actor_id=reviewer.actor_id,
        object_type="message",
        object_id=message.id,
        data={"conversation_id": message.conversation_id, "correction_id": correction.id},
    )
    return correction


async def _upsert(
    session: AsyncSession, message: Message, intent: str, reviewer_id: str | None
) -> NluCorrection:
    """One row per message: the unique key settles a race between two reviewers."""
    existing = await _correction_of(session, message.id)
    if existing is None:
        row = NluCorrection(
            message_id=message.id,
            conversation_id=message.conversation_id,
            text=message.text,
            predicted_intent=message.intent,
            predicted_confidence=message.intent_confidence,
            correct_intent=intent,
            reviewer_id=reviewer_id,
        )
        try:
            async with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            existing = await _correction_of(session, message.id)
            if existing is None:
                raise
    existing.correct_intent = intent
    existing.reviewer_id = reviewer_id
    existing.text = message.text
    existing.created_at = utcnow()  # when it was last flagged: `export --since` picks it up
    await session.flush()
    return existing


async def _correction_of(session: AsyncSession, message_id: str) -> NluCorrection | None:
    return await session.scalar(
        select(NluCorrection).where(NluCorrection.message_id == message_id)
    )


async def corrections_in(session: AsyncSession, conversation_id: str) -> dict[str, str]:
    """The corrected intent of each flagged message of a conversation, by message id."""
    rows = await session.execute(
        select(NluCorrection.message_id, NluCorrection.correct_intent).where(
            NluCorrection.conversation_id == conversation_id
        )
    )
    return {message_id: intent for message_id, intent in rows.all()}


async def all_corrections(
    session: AsyncSession, *, since: datetime | None = None
) -> list[NluCorrection]:
    """Every correction (made at or after `since`), oldest first: the export's input."""
    stmt = select(NluCorrection).order_by(NluCorrection.created_at, NluCorrection.id)
    if since is not None:
        stmt = stmt.where(NluCorrection.created_at >= since)
    return list((await session.scalars(stmt)).all())
