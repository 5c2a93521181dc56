"""QA over REST: reviews and NLU corrections for supervisors, 403 for agents; reading a
transcript through the API is audit-logged."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from crm_core.enums import Role
from crm_core.models import AuditLog, NluCorrection, QaReview
from tests.conftest import Harness
from tests.handoff.transcript_data import BOOKING_TEXT, seed_conversation

SCORES = {"greeting": 2, "understood_need": 2, "resolution": 1, "tone": 2, "follow_up": 1}


async def _post(harness: Harness, path: str, body: dict[str, Any], role: Role) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await harness.key(role)}"}
    return await harness.client.post(path, json=body, headers=headers)


async def test_supervisors_review_a_conversation_and_list_the_reviews(harness: Harness) -> None:
    seeded = await seed_conversation(harness.runtime.db)
    path = f"/api/v1/conversations/{seeded.conversation_id}/reviews"

    created = await _post(harness, path, {"scores": SCORES, "notes": "ổn"}, Role.SUPERVISOR)
    assert created.status_code == 201, created.text
    review = created.json()
    assert review["score"] == 0.8 and review["scores"] == SCORES and review["notes"] == "ổn"
    assert review["conversation_id"] == seeded.conversation_id
    assert review["reviewer_id"] is None  # an API key is not a console user

    listed = (await harness.get(path, Role.ADMIN)).json()
    assert [item["id"] for item in listed["items"]] == [review["id"]]
    assert listed["next_cursor"] is None

    for body, code in (
        ({"scores": {**SCORES, "tone": 3}}, "invalid_score"),
        ({"scores": {k: v for k, v in SCORES.items() if k != "tone"}}, "invalid_score"),
        ({"scores": {**SCORES, "speed": 1}}, "unknown_item"),
    ):
        refused = await _post(harness, path, body, Role.SUPERVISOR)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == code, body
    extra = await _post(harness, path, {"scores": SCORES, "score": 1}, Role.SUPERVISOR)
    assert extra.status_code == 422
    missing = await _post(
        harness, "/api/v1/conversations/nope/reviews", {"scores": SCORES}, Role.SUPERVISOR
    )
    assert missing.status_code == 404
    assert (await harness.get("/api/v1/conversations/nope/reviews")).status_code == 404
    assert await harness.count(QaReview) == 1
    async with harness.runtime.db.reading() as session:
        audit = await session.scalar(select(AuditLog).where(AuditLog.action == "qa_review"))
    assert audit is not None and audit.actor_type == "api_key"
    assert audit.object_id == seeded.conversation_id


async def test_agents_get_403_on_every_qa_route(harness: Harness) -> None:
    seeded = await seed_conversation(harness.runtime.db)
    reviews = f"/api/v1/conversations/{seeded.conversation_id}/reviews"
    correction = f"/api/v1/messages/{seeded.booking_message_id}/correction"
    assert (await _post(harness, reviews, {"scores": SCORES}, Role.SUPERVISOR)).is_success
    assert (await harness.get(reviews, Role.AGENT)).status_code == 403
    assert (await harness.get("/api/v1/nlu/corrections", Role.AGENT)).status_code == 403
    denied = await _post(harness, reviews, {"scores": SCORES}, Role.AGENT)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert (await _post(harness, correction, {"intent": "greet"}, Role.AGENT)).status_code == 403
    assert (await harness.client.get(reviews)).status_code == 401
    assert await harness.count(QaReview) == 1 and await harness.count(NluCorrection) == 0


async def test_a_correction_is_one_per_message_and_listed(harness: Harness) -> None:
    seeded = await seed_conversation(harness.runtime.db)
    path = f"/api/v1/messages/{seeded.booking_message_id}/correction"

    first = await _post(harness, path, {"intent": "pricing"}, Role.SUPERVISOR)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["text"] == BOOKING_TEXT and body["correct_intent"] == "pricing"
    assert body["predicted_intent"] == "book_consultation"
    assert body["predicted_confidence"] == 0.87
    second = (await _post(harness, path, {"intent": "complaint"}, Role.ADMIN)).json()
    assert second["id"] == body["id"] and second["correct_intent"] == "complaint"

    for target, intent, status, code in (
        (path, "hack", 422, "unknown_intent"),
        (f"/api/v1/messages/{seeded.bot_message_id}/correction", "greet", 422, "not_a_bot_turn"),
        ("/api/v1/messages/nope/correction", "greet", 404, "not_found"),
    ):
        refused = await _post(harness, target, {"intent": intent}, Role.SUPERVISOR)
        assert refused.status_code == status and refused.json()["error"]["code"] == code

    listed = (await harness.get("/api/v1/nlu/corrections", Role.SUPERVISOR)).json()
    assert [(c["message_id"], c["correct_intent"]) for c in listed["items"]] == [
        (seeded.booking_message_id, "complaint")
    ]
    later = await harness.get("/api/v1/nlu/corrections", since="2999-01-01T00:00:00Z")
    assert later.json()["items"] == []
    naive = await harness.get("/api/v1/nlu/corrections", since="2026-01-01T00:00:00")
    assert naive.status_code == 422


async def test_reading_a_transcript_through_the_api_is_audited(harness: Harness) -> None:
    seeded = await seed_conversation(harness.runtime.db)
    path = f"/api/v1/conversations/{seeded.conversation_id}/messages"
    page = await harness.get(path, Role.AGENT, limit=2)
    assert page.status_code == 200 and len(page.json()["items"]) == 2
    cursor = page.json()["next_cursor"]
    assert (await harness.get(path, Role.AGENT, cursor=cursor)).status_code == 200
    assert (await harness.get("/api/v1/conversations/nope/messages")).status_code == 404
    async with harness.runtime.db.reading() as session:
        rows = list(
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.action == "transcript_view")
                .order_by(AuditLog.created_at)
            )
        )
    assert [(r.actor_type, r.object_type, r.object_id, r.data) for r in rows] == [
        ("api_key", "conversation", seeded.conversation_id, {"via": "api"})
    ] * 2
    assert rows[0].actor_id and rows[0].actor_id != seeded.customer_id
