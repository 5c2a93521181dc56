"""QA on the conversation page: supervisors review and flag bot turns; agents only read the
reviews of their own conversations and can do neither."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core.enums import Role
from crm_core.models import NluCorrection, QaReview
from handoff.console.qa_view import allowed_intents
from tests.conftest import Harness
from tests.handoff.console_helpers import ConsoleUser, console_user
from tests.handoff.transcript_data import seed_conversation

SCORES = {
    "score_greeting": "2",
    "score_understood_need": "2",
    "score_resolution": "1",
    "score_tone": "2",
    "score_follow_up": "1",
}


async def _post(harness: Harness, who: ConsoleUser, path: str, **data: str) -> int:
    response = await harness.client.post(
        path, data={"csrf": who.csrf, **data}, cookies=who.cookies
    )
    return response.status_code


def test_the_intents_offered_are_the_nlu_training_intents() -> None:
    intents = allowed_intents()
    assert intents == tuple(sorted(intents))
    assert {"greet", "book_consultation", "complaint", "request_human"} <= set(intents)
    assert "nlu_fallback" not in intents


async def test_a_supervisor_reviews_and_the_review_is_listed(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR, name="Hoa")
    seeded = await seed_conversation(harness.runtime.db)
    url = f"/console/conversations/{seeded.conversation_id}"

    page = (await harness.client.get(url, cookies=supervisor.cookies)).text
    assert f'action="{url}/qa/review"' in page and "Chưa có đánh giá nào." in page
    done = await harness.client.post(
        f"{url}/qa/review",
        data={"csrf": supervisor.csrf, **SCORES, "notes": "<b>Chào</b> tốt"},
        cookies=supervisor.cookies,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{url}#qa"
    page = (
        await harness.client.get(
            url, cookies=supervisor.cookies, headers={"Accept-Language": "en"}
        )
    ).text
    section = page.split('id="qa"')[1].split("</section>")[0]
    assert '<strong class="qa-score">80%</strong>' in section and "Hoa" in section
    assert "Greeting: 2/2" in section and "Correct answer or resolution: 1/2" in section
    assert "&lt;b&gt;Chào&lt;/b&gt; tốt" in section

    bad = await harness.client.post(
        f"{url}/qa/review",
        data={"csrf": supervisor.csrf, **SCORES, "score_tone": "5"},
        cookies=supervisor.cookies,
    )
    assert bad.headers["location"] == f"{url}?error=invalid_score#qa"
    shown = await harness.client.get(f"{url}?error=invalid_score", cookies=supervisor.cookies)
    assert "Hãy chấm mọi tiêu chí bằng 0, 1 hoặc 2." in shown.text
    forged = await harness.client.post(
        f"{url}/qa/review", data={"csrf": "guess", **SCORES}, cookies=supervisor.cookies
    )
    assert forged.status_code == 403
    missing = await _post(harness, supervisor, "/console/conversations/x/qa/review", **SCORES)
    assert missing == 404
    assert await harness.count(QaReview) == 1


async def test_agents_cannot_review_nor_read_other_agents_reviews(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR, name="Hoa")
    mai = await console_user(harness, Role.AGENT, email="mai@example.com", name="Mai")
    lan = await console_user(harness, Role.AGENT, email="lan@example.com", name="Lan")
    seeded = await seed_conversation(harness.runtime.db, agent_id=mai.agent_id)
    url = f"/console/conversations/{seeded.conversation_id}"
    status = await _post(harness, supervisor, f"{url}/qa/review", notes="nhớ hẹn lại", **SCORES)
    assert status == 303

    assert await _post(harness, mai, f"{url}/qa/review", **SCORES) == 403
    assert await _post(harness, lan, f"{url}/qa/review", **SCORES) == 403
    assert await harness.count(QaReview) == 1

    own = (await harness.client.get(url, cookies=mai.cookies)).text
    assert "80%" in own and "nhớ hẹn lại" in own  # her own conversation's review
    assert "/qa/review" not in own  # but no form
    other = (await harness.client.get(url, cookies=lan.cookies)).text
    assert "80%" not in other and "nhớ hẹn lại" not in other and 'id="qa"' not in other


async def test_flagging_a_bot_turn_stores_one_correction_per_message(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    agent = await console_user(harness, Role.AGENT)
    seeded = await seed_conversation(harness.runtime.db, agent_id=agent.agent_id)
    other = await seed_conversation(harness.runtime.db, name="Bình")
    url = f"/console/conversations/{seeded.conversation_id}"
    fix = f"{url}/messages/{seeded.booking_message_id}/correction"

    page = (await harness.client.get(url, cookies=supervisor.cookies)).text
    assert f'action="{fix}"' in page
    assert f'action="{url}/messages/{seeded.bot_message_id}/correction"' not in page
    done = await harness.client.post(
        fix, data={"csrf": supervisor.csrf, "intent": "pricing"}, cookies=supervisor.cookies
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{url}#m-{seeded.booking_message_id}"
    assert await _post(harness, supervisor, fix, intent="product_info") == 303
    async with harness.runtime.db.reading() as session:
        rows = list(await session.scalars(select(NluCorrection)))
    assert [(r.message_id, r.correct_intent) for r in rows] == [
        (seeded.booking_message_id, "product_info")
    ]
    page = (await harness.client.get(url, cookies=supervisor.cookies)).text
    assert "đã sửa thành <code>product_info</code>" in page
    assert '<option value="product_info" selected>' in page

    unknown = await harness.client.post(
        fix, data={"csrf": supervisor.csrf, "intent": "hack"}, cookies=supervisor.cookies
    )
    assert unknown.headers["location"] == f"{url}?error=unknown_intent"
    bot_turn = f"{url}/messages/{seeded.bot_message_id}/correction"
    refused = await harness.client.post(
        bot_turn, data={"csrf": supervisor.csrf, "intent": "greet"}, cookies=supervisor.cookies
    )
    assert refused.headers["location"] == f"{url}?error=not_a_bot_turn"
    elsewhere = f"/console/conversations/{other.conversation_id}/messages/"
    elsewhere += f"{seeded.booking_message_id}/correction"
    assert await _post(harness, supervisor, elsewhere, intent="greet") == 404
    assert await _post(harness, agent, fix, intent="greet") == 403
    async with harness.runtime.db.reading() as session:
        count = await session.scalar(select(func.count()).select_from(NluCorrection))
        intent = await session.scalar(select(NluCorrection.correct_intent))
    assert (count, intent) == (1, "product_info")
    agent_page = (await harness.client.get(url, cookies=agent.cookies)).text
    assert "/correction" not in agent_page and "product_info" not in agent_page
