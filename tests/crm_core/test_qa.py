"""QA reviews and NLU corrections in the database: the rubric, who may read, one correction
per message, and an audit entry for each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_core import qa
from crm_core.auth import create_agent
from crm_core.db import Database
from crm_core.enums import Role
from crm_core.models import AuditLog, NluCorrection
from crm_core.types import utcnow
from tests.handoff.transcript_data import BOOKING_TEXT, seed_conversation

INTENTS = ("book_consultation", "complaint", "greet", "pricing")
GOOD = {"greeting": 2, "understood_need": 2, "resolution": 1, "tone": 2, "follow_up": 1}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _reviewer(db: Database, email: str = "hoa@example.com") -> qa.Reviewer:
    async with db.transaction() as session:
        agent = await create_agent(
            session, email=email, role=Role.SUPERVISOR, password="s3cret-pass", name="Hoa"
        )
    return qa.Reviewer(actor_type="agent", actor_id=agent.id, agent_id=agent.id)


def test_the_score_is_the_share_of_the_rubric_maximum() -> None:
    assert qa.score_of(qa.checked_scores(GOOD)) == pytest.approx(0.8)
    assert qa.score_of(dict.fromkeys(qa.RUBRIC, 0)) == 0.0
    assert qa.score_of(dict.fromkeys(qa.RUBRIC, 2)) == 1.0
    for bad, code in (
        ({**GOOD, "tone": 3}, "invalid_score"),
        ({**GOOD, "tone": -1}, "invalid_score"),
        ({**GOOD, "tone": True}, "invalid_score"),
        ({**GOOD, "tone": "2"}, "invalid_score"),
        ({k: v for k, v in GOOD.items() if k != "tone"}, "invalid_score"),
        ({**GOOD, "speed": 2}, "unknown_item"),
    ):
        with pytest.raises(qa.QaError) as caught:
            qa.checked_scores(bad)
        assert caught.value.code == code, bad


def test_agents_read_only_the_reviews_of_their_own_conversations() -> None:
    allowed = qa.may_read_reviews
    assert allowed(role=Role.SUPERVISOR, viewer_id="s", assigned_agent_id=None)
    assert allowed(role=Role.ADMIN, viewer_id="a", assigned_agent_id="other")
    assert allowed(role=Role.AGENT, viewer_id="mai", assigned_agent_id="mai")
    assert not allowed(role=Role.AGENT, viewer_id="mai", assigned_agent_id="lan")
    assert not allowed(role=Role.AGENT, viewer_id="mai", assigned_agent_id=None)


async def test_a_review_is_stored_listed_newest_first_and_audited(db: Database) -> None:
    reviewer = await _reviewer(db)
    seeded = await seed_conversation(db)
    async with db.transaction() as session:
        first = await qa.add_review(
            session, seeded.conversation_id, scores=GOOD, notes="  ổn  ", reviewer=reviewer
        )
    async with db.transaction() as session:
        await qa.add_review(
            session,
            seeded.conversation_id,
            scores=dict.fromkeys(qa.RUBRIC, 2),
            notes="",
            reviewer=reviewer,
        )
    async with db.reading() as session:
        rows = await qa.reviews_of(session, seeded.conversation_id)
        audits = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "qa_review"))
        )
    assert [(row.percent, row.reviewer_name) for row in rows] == [(100, "Hoa"), (80, "Hoa")]
    assert rows[1].review.id == first.id and rows[1].review.notes == "ổn"
    assert rows[1].review.scores == GOOD
    assert {a.object_id for a in audits} == {seeded.conversation_id}
    assert all(set(a.data) == {"review_id", "score"} for a in audits)
    with pytest.raises(LookupError):
        async with db.transaction() as session:
            await qa.add_review(session, "nope", scores=GOOD, notes="", reviewer=reviewer)
    with pytest.raises(qa.QaError):
        async with db.transaction() as session:
            await qa.add_review(
                session, seeded.conversation_id, scores=GOOD, notes="x" * 4001, reviewer=reviewer
            )


async def test_flagging_again_replaces_the_correction_of_that_message(db: Database) -> None:
    reviewer = await _reviewer(db)
    seeded = await seed_conversation(db)

    async def flag(message_id: str, intent: str) -> NluCorrection:
        async with db.transaction() as session:
            return await qa.flag_message(
                session, message_id, correct_intent=intent, allowed=INTENTS, reviewer=reviewer
            )

    first = await flag(seeded.booking_message_id, "pricing")
    assert (first.text, first.predicted_intent, first.predicted_confidence) == (
        BOOKING_TEXT,
        "book_consultation",
        0.87,
    )
    again = await flag(seeded.booking_message_id, "complaint")
    assert again.id == first.id and again.correct_intent == "complaint"
    await flag(seeded.hostile_message_id, "greet")
    async with db.reading() as session:
        count = await session.scalar(select(func.count()).select_from(NluCorrection))
        fixed = await qa.corrections_in(session, seeded.conversation_id)
        everything = await qa.all_corrections(session)
        later = await qa.all_corrections(session, since=utcnow() + timedelta(minutes=1))
        audits = await session.scalar(
            select(func.count()).where(AuditLog.action == "nlu_correction")
        )
    assert count == 2 and audits == 3
    assert fixed == {seeded.booking_message_id: "complaint", seeded.hostile_message_id: "greet"}
    assert [c.correct_intent for c in everything] == ["complaint", "greet"]
    assert later == []


async def test_only_classified_customer_messages_with_a_known_intent(db: Database) -> None:
    reviewer = await _reviewer(db)
    seeded = await seed_conversation(db)
    for message_id, intent, code in (
        (seeded.booking_message_id, "hack_the_bot", "unknown_intent"),
        (seeded.bot_message_id, "greet", "not_a_bot_turn"),
    ):
        with pytest.raises(qa.QaError) as caught:
            async with db.transaction() as session:
                await qa.flag_message(
                    session, message_id, correct_intent=intent, allowed=INTENTS, reviewer=reviewer
                )
        assert caught.value.code == code
    with pytest.raises(LookupError):
        async with db.transaction() as session:
            await qa.flag_message(
                session, "nope", correct_intent="greet", allowed=INTENTS, reviewer=reviewer
            )
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(NluCorrection)) == 0
