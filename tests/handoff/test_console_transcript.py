"""The transcript page: authors, channels, delivery, intents and events in order, in both
languages; hostile text inert; contacts masked for agents; every view audit-logged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from crm_core.enums import Role
from crm_core.models import AuditLog
from handoff.console import conversation_view, qa_view, timeline
from handoff.console.i18n import catalogue
from tests.conftest import Harness, make_settings, running_app
from tests.fakes.telegram import FakeTelegram
from tests.handoff.console_helpers import console_user
from tests.handoff.transcript_data import (
    AGENT_TEXT,
    BOOKING_TEXT,
    BOT_TEXT,
    SYSTEM_TEXT,
    seed_conversation,
)

ENGLISH = {"Accept-Language": "en"}


def test_phrases_picked_in_python_are_all_translated() -> None:
    keys = {key for _, key in conversation_view.SNOOZES}
    for table in (
        timeline.AUTHOR_KEYS,
        timeline.ACTOR_KEYS,
        timeline.STATUS_KEYS,
        timeline.DELIVERY_KEYS,
        timeline.SIMPLE_KEYS,
        conversation_view.ERRORS,
        qa_view.ITEM_KEYS,
    ):
        keys |= set(table.values())
    keys |= {"conversation_error_other", "conversation_print_no_font"}
    assert sorted(keys - set(catalogue())) == []
    assert set(qa_view.ITEM_KEYS) == set(qa_view.qa.RUBRIC)


async def test_every_message_shows_author_channel_delivery_and_intent_between_events(
    harness: Harness,
) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR, name="Hoa")
    agent = await console_user(harness, Role.AGENT, name="Mai")
    seeded = await seed_conversation(harness.runtime.db, agent_id=agent.agent_id)
    url = f"/console/conversations/{seeded.conversation_id}"

    page = (await harness.client.get(url, cookies=supervisor.cookies, headers=ENGLISH)).text
    order = [
        "conversation opened on telegram",
        BOOKING_TEXT,
        BOT_TEXT,
        "status bot → waiting for an agent",
        "claimed the conversation · Mai",
        AGENT_TEXT,
        "ticket T-000042 opened: complaint, high",
        "appointment booked: facial, 2026-03-03 09:00",
        SYSTEM_TEXT,
    ]
    positions = [page.find(text) for text in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)

    booking = _item(page, seeded.booking_message_id)
    assert (
        "<strong>Lan Nguyễn</strong>" in booking
        and '<span class="role">Customer</span>' in booking
    )
    assert '<span class="channel">telegram</span>' in booking
    assert '<span class="delivery delivery-received">received</span>' in booking
    assert "intent: <code>book_consultation</code> 0.87" in booking
    bot = _item(page, seeded.bot_message_id)
    assert "<strong>Bot</strong>" in bot and "delivery-delivered" in bot and "intent" not in bot
    assert '<strong>Mai</strong> <span class="role">Agent</span>' in " ".join(page.split())
    assert '<span class="delivery delivery-read">read</span>' in page
    assert "<strong>System</strong>" in page and "blocked by the user" in page
    assert 'delivery-failed">failed</span>' in page

    vietnamese = (await harness.client.get(url, cookies=supervisor.cookies)).text
    assert '<html lang="vi">' in vietnamese
    for phrase in (
        "mở hội thoại trên telegram",
        "trạng thái bot → chờ nhân viên",
        "đã nhận xử lý hội thoại",
        "mở phiếu T-000042",
        "đã đặt lịch: facial",
        '<span class="role">Khách hàng</span>',
        "đã nhận</span>",
        "ý định: <code>book_consultation</code> 0.87",
        "Đánh giá chất lượng",
    ):
        assert phrase in vietnamese, phrase


async def test_hostile_customer_text_is_inert_on_the_page_and_the_fragment(
    harness: Harness,
) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    seeded = await seed_conversation(harness.runtime.db)
    url = f"/console/conversations/{seeded.conversation_id}"
    for path in (url, f"{url}/fragment", f"{url}/print"):
        response = await harness.client.get(path, cookies=supervisor.cookies)
        assert response.status_code == 200, path
        html = response.text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert 'href="javascript:' not in html.lower() and '<a href="java' not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "&lt;img src=x onerror=alert(2)&gt;" in html, path
        assert "[bấm vào đây](javascript:alert(3)) javascript:alert(4)" in html, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp


async def test_opening_the_page_is_audited_but_the_live_fragment_is_not(
    harness: Harness,
) -> None:
    agent = await console_user(harness, Role.AGENT)
    seeded = await seed_conversation(harness.runtime.db)
    url = f"/console/conversations/{seeded.conversation_id}"
    assert (await harness.client.get(url, cookies=agent.cookies)).status_code == 200
    for _ in range(3):
        fragment = await harness.client.get(f"{url}/fragment", cookies=agent.cookies)
        assert fragment.status_code == 200
    missing = await harness.client.get("/console/conversations/nope", cookies=agent.cookies)
    assert missing.status_code == 404

    rows = await _views(harness)
    assert [(r.actor_type, r.actor_id, r.object_id, r.data) for r in rows] == [
        ("agent", agent.agent_id, seeded.conversation_id, {"via": "console"})
    ]
    assert rows[0].object_type == "conversation"


async def test_agents_see_no_print_links_nor_flag_forms(harness: Harness) -> None:
    agent = await console_user(harness, Role.AGENT)
    seeded = await seed_conversation(harness.runtime.db, agent_id=agent.agent_id)
    page = (
        await harness.client.get(
            f"/console/conversations/{seeded.conversation_id}", cookies=agent.cookies
        )
    ).text
    assert "/print" not in page and "transcript.pdf" not in page
    assert "/correction" not in page and "/qa/review" not in page
    assert "intent: <code>" not in page  # Vietnamese by default
    assert "ý định: <code>book_consultation</code>" in page  # the bot's reading is shown


@pytest.fixture
async def masking(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, fake_telegram.url, mask_contacts=True)
    async with running_app(settings) as running:
        yield running


async def test_the_card_masks_contacts_for_agents_when_configured(masking: Harness) -> None:
    agent = await console_user(masking, Role.AGENT)
    supervisor = await console_user(masking, Role.SUPERVISOR)
    seeded = await seed_conversation(masking.runtime.db, agent_id=agent.agent_id)
    url = f"/console/conversations/{seeded.conversation_id}"

    as_agent = (await masking.client.get(url, cookies=agent.cookies)).text
    card = as_agent.split('class="customer-card"')[1].split("</aside>")[0]
    assert "+8491****678" in card and "l***@example.com" in card
    assert "+84912345678" not in as_agent and "lan@example.com" not in as_agent

    as_supervisor = (await masking.client.get(url, cookies=supervisor.cookies)).text
    card = as_supervisor.split('class="customer-card"')[1].split("</aside>")[0]
    assert "+84912345678" in card and "lan@example.com" in card


def _item(page: str, message_id: str) -> str:
    """The <li> of one message."""
    return page.split(f'id="m-{message_id}"')[1].split("</li>")[0]


async def _views(harness: Harness) -> list[AuditLog]:
    async with harness.runtime.db.reading() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "transcript_view")
            .order_by(AuditLog.created_at, AuditLog.id)
        )
        return list(rows)
