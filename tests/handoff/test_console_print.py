"""The printable transcript: an HTML page for paper and a PDF, for supervisors, audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.enums import Role
from crm_core.models import AuditLog
from tests.conftest import Harness, make_settings, running_app
from tests.crm_core.pdf_text import pdf_text
from tests.fakes.telegram import FakeTelegram
from tests.handoff.console_helpers import console_user
from tests.handoff.transcript_data import (
    AGENT_TEXT,
    BOOKING_TEXT,
    BOT_TEXT,
    HOSTILE,
    SYSTEM_TEXT,
    seed_conversation,
)


async def test_the_print_view_is_a_plain_page_with_header_and_every_message(
    harness: Harness,
) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    agent = await console_user(harness, Role.AGENT, name="Mai")
    seeded = await seed_conversation(harness.runtime.db, agent_id=agent.agent_id)
    url = f"/console/conversations/{seeded.conversation_id}/print"

    response = await harness.client.get(url, cookies=supervisor.cookies)
    assert response.status_code == 200
    page = response.text
    assert '<header class="bar">' not in page and "<nav" not in page and "<form" not in page
    header = page.split('<header class="print-header">')[1].split("</header>")[0]
    for fact in ("Hội thoại với Lan Nguyễn", "telegram", "nhân viên đang xử lý", "Mai"):
        assert fact in header, fact
    assert "<dt>Bắt đầu</dt><dd>2026-03-02 09:00:00</dd>" in header
    order = [
        "2026-03-02 09:00:01</time>\n        · <strong>Lan Nguyễn</strong> (Khách hàng)",
        "· telegram · đã nhận · book_consultation 0.87</p>",
        BOOKING_TEXT,
        BOT_TEXT,
        "trạng thái bot → chờ nhân viên",
        AGENT_TEXT,
        SYSTEM_TEXT,
    ]
    positions = [page.find(text) for text in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    css = (await harness.client.get("/console/static/console.css")).text
    print_rules = css.split("@media print")[1]
    assert ".bar" in print_rules and ".print-tools" in print_rules


async def test_the_pdf_is_a_real_pdf_with_the_vietnamese_transcript(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    seeded = await seed_conversation(harness.runtime.db)
    url = f"/console/conversations/{seeded.conversation_id}/transcript.pdf"

    response = await harness.client.get(url, cookies=supervisor.cookies)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f"transcript-{seeded.conversation_id}.pdf" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    for expected in (
        "Hội thoại với Lan Nguyễn",
        "Kênh: telegram",
        "2026-03-02 09:00:01 · Lan Nguyễn (Khách hàng) · telegram · đã nhận · book_consultation",
        BOOKING_TEXT,
        BOT_TEXT,
        AGENT_TEXT,
        SYSTEM_TEXT,
        "trạng thái bot → chờ nhân viên",
        "<script>alert(1)</script>",  # printed as the characters the customer typed
    ):
        assert expected in text, expected
    english = await harness.client.get(
        url, cookies=supervisor.cookies, headers={"Accept-Language": "en"}
    )
    assert "Conversation with Lan Nguyễn" in pdf_text(english.content)


async def test_agents_cannot_print_and_a_missing_conversation_is_404(harness: Harness) -> None:
    agent = await console_user(harness, Role.AGENT)
    supervisor = await console_user(harness, Role.SUPERVISOR)
    seeded = await seed_conversation(harness.runtime.db, agent_id=agent.agent_id)
    base = f"/console/conversations/{seeded.conversation_id}"
    for path in (f"{base}/print", f"{base}/transcript.pdf"):
        assert (await harness.client.get(path, cookies=agent.cookies)).status_code == 403
        harness.client.cookies.clear()  # the logins above left a cookie in the client
        anonymous = await harness.client.get(path)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console"
    for path in (
        "/console/conversations/nope/print",
        "/console/conversations/nope/transcript.pdf",
    ):
        assert (await harness.client.get(path, cookies=supervisor.cookies)).status_code == 404
    assert await _views(harness) == []


async def test_print_and_pdf_views_are_audited_with_ids_only(harness: Harness) -> None:
    supervisor = await console_user(harness, Role.SUPERVISOR)
    seeded = await seed_conversation(harness.runtime.db, hostile=HOSTILE)
    base = f"/console/conversations/{seeded.conversation_id}"
    assert (await harness.client.get(f"{base}/print", cookies=supervisor.cookies)).is_success
    pdf = await harness.client.get(f"{base}/transcript.pdf", cookies=supervisor.cookies)
    assert pdf.is_success
    assert (await harness.client.get(base, cookies=supervisor.cookies)).is_success
    views = await _views(harness)
    assert [(v.actor_id, v.object_id, v.data) for v in views] == [
        (supervisor.agent_id, seeded.conversation_id, {"via": via})
        for via in ("print", "pdf", "console")
    ]


async def test_without_a_font_the_pdf_answers_503_saying_what_to_install(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm_core.reporting.transcript_pdf.FONT_CANDIDATES", ())
    supervisor = await console_user(harness, Role.SUPERVISOR)
    seeded = await seed_conversation(harness.runtime.db)
    url = f"/console/conversations/{seeded.conversation_id}/transcript.pdf"
    response = await harness.client.get(
        url, cookies=supervisor.cookies, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 503
    assert "fonts-dejavu-core" in response.text and "OMNICRM_PDF_FONT" in response.text
    assert await _views(harness) == []  # nothing left, nothing audited


@pytest.fixture
async def bad_font(
    database_url: str, fake_telegram: FakeTelegram, tmp_path: Path
) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url, fake_telegram.url, pdf_font=str(tmp_path / "no-such-font.ttf")
    )
    async with running_app(settings) as running:
        yield running


async def test_a_wrong_pdf_font_setting_is_named(bad_font: Harness) -> None:
    supervisor = await console_user(bad_font, Role.SUPERVISOR)
    seeded = await seed_conversation(bad_font.runtime.db)
    url = f"/console/conversations/{seeded.conversation_id}/transcript.pdf"
    response = await bad_font.client.get(url, cookies=supervisor.cookies)
    assert response.status_code == 503
    assert "OMNICRM_PDF_FONT" in response.text and "fonts-dejavu-core" in response.text
    assert "no-such-font" not in response.text  # the server's paths stay private


async def _views(harness: Harness) -> list[AuditLog]:
    async with harness.runtime.db.reading() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "transcript_view")
            .order_by(AuditLog.created_at, AuditLog.id)
        )
        return list(rows)
