"""The console inbox: queue and SLA, timeline and card, note, snooze, availability."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from crm_core import timeline
from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import (
    Agent,
    ContactPoint,
    Conversation,
    Customer,
    Message,
    Purchase,
    TimelineEvent,
)
from crm_core.types import utcnow
from handoff.console.conversation_view import snooze_until
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram

PASSWORD = "s3cret-pass"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ENGLISH = {"Accept-Language": "en"}  # the console's default language is Vietnamese


@pytest.fixture
async def harness(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    """The app with its handoff clock idle: no automatic assignment behind the test's back."""
    settings = make_settings(
        database_url, fake_telegram.url, handoff_auto_assign=False, handoff_tick_seconds=3600
    )
    async with running_app(settings) as running:
        yield running


@dataclass
class Login:
    """A console session: the cookie to send and the CSRF token its pages carry."""

    cookies: dict[str, str]
    csrf: str
    agent_id: str
    landing: str


async def add_agent(harness: Harness, email: str = "mai@example.com", name: str = "Mai") -> str:
    async with harness.runtime.db.transaction() as session:
        row = await create_agent(
            session, email=email, role=Role.AGENT, password=PASSWORD, name=name
        )
        return row.id


async def login(
    client: httpx.AsyncClient, harness: Harness, email: str = "mai@example.com"
) -> Login:
    response = await client.post("/console/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    cookies = {"omnicrm_console": response.cookies["omnicrm_console"]}
    client.cookies.clear()  # every request says whose it is; the others stay anonymous
    page = await client.get("/console", cookies=cookies)
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    async with harness.runtime.db.reading() as session:
        agent_id = await session.scalar(select(Agent.id).where(Agent.email == email))
    assert agent_id is not None
    return Login(cookies, token, agent_id, response.headers["location"])


async def handed_off(
    harness: Harness,
    fake: FakeTelegram,
    *,
    user_id: int = 4200000101,
    first: str = "Lan",
    text: str = "cho mình gặp nhân viên",
) -> str:
    """A Telegram customer asks for a person; the id of their conversation, now waiting."""
    before = len(fake.sent())
    update_id = user_id % 10**6 + len(fake.sent()) * 10
    await harness.telegram(updates.text_update(update_id, text, user_id=user_id, first=first))
    await fake.wait_for_sent(before + 1)
    await harness.settle()
    async with harness.runtime.db.reading() as session:
        conversation_id = await session.scalar(
            select(Conversation.id)
            .where(Conversation.status == "waiting_agent")
            .order_by(Conversation.created_at.desc())
        )
    assert conversation_id is not None
    return conversation_id


async def post(harness: Harness, who: Login, path: str, **data: str) -> httpx.Response:
    return await harness.client.post(path, data={"csrf": who.csrf, **data}, cookies=who.cookies)


async def test_queue_shows_the_handoff_with_its_sla_due_then_highlights_a_breach(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    assert who.landing == "/console/queue"  # agents land on the queue
    conversation_id = await handed_off(harness, fake_telegram)

    page = await harness.client.get("/console/queue", cookies=who.cookies)
    assert page.status_code == 200
    assert 'href="/console/queue"' in page.text  # linked from the nav
    assert f"/console/conversations/{conversation_id}" in page.text
    assert "Lan Nguyen" in page.text and "telegram" in page.text and "waiting_agent" in page.text
    async with harness.runtime.db.reading() as session:
        started = await session.scalar(
            select(TimelineEvent.created_at).where(
                TimelineEvent.conversation_id == conversation_id,
                TimelineEvent.kind == "status_changed",
            )
        )
    assert started is not None
    due = (started + timedelta(minutes=15)).astimezone(TZ)
    assert due.strftime("%Y-%m-%d %H:%M") in page.text  # the default 15-minute target
    assert "Quá hạn SLA" not in page.text and 'class="breached' not in page.text

    async with harness.runtime.db.transaction() as session:  # the handoff was 20 minutes ago
        await session.execute(
            update(TimelineEvent)
            .where(TimelineEvent.conversation_id == conversation_id)
            .values(created_at=utcnow() - timedelta(minutes=20))
        )
    late = await harness.client.get("/console/queue", cookies=who.cookies)
    assert "Quá hạn SLA" in late.text and '<tr class="breached' in late.text
    assert "20 min" in late.text  # how long the customer has waited

    mine = await harness.client.get("/console/queue?mine=1", cookies=who.cookies)
    assert "Chưa có hội thoại nào giao cho bạn" in mine.text and conversation_id not in mine.text
    assert (
        await post(harness, who, f"/console/conversations/{conversation_id}/claim")
    ).is_redirect
    mine = await harness.client.get("/console/queue?mine=1", cookies=who.cookies)
    assert conversation_id in mine.text and "Mai" in mine.text

    fragment = await harness.client.get("/console/queue/fragment", cookies=who.cookies)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert conversation_id in fragment.text
    anonymous = await harness.client.get("/console/queue/fragment")
    assert anonymous.status_code == 401
    assert (await harness.client.get("/console/queue")).headers["location"] == "/console"


async def test_the_timeline_interleaves_messages_and_events_with_their_actors(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(harness, fake_telegram)
    url = f"/console/conversations/{conversation_id}"
    await post(harness, who, f"{url}/claim")
    await post(harness, who, f"{url}/reply", text="Em Mai đây ạ")
    await fake_telegram.wait_for_sent(2)
    await harness.settle()
    async with harness.runtime.db.transaction() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        for kind, data in (
            ("sla_breached", {"due_at": "x", "target_s": 900, "waited_s": 1260}),
            ("requeued", {"agent_id": who.agent_id, "agent_name": "Mai", "after_s": 600}),
            ("csat_received", {"score": 4}),
        ):
            timeline.record(
                session,
                customer_id=conversation.customer_id,
                conversation_id=conversation_id,
                kind=kind,
                actor_type="system",
                data=data,
            )

    page = (await harness.client.get(url, cookies=who.cookies, headers=ENGLISH)).text
    order = [
        "cho mình gặp nhân viên",  # the customer
        "status bot → waiting for an agent",  # the handoff, by the bot/system
        "claimed the conversation · Mai",
        "Em Mai đây ạ",
        "first-response SLA breached: waited 21 min, target 15 min",
        "back in the queue: Mai did not answer within 10 min",
        "customer rated the conversation 4/5",
    ]
    positions = [page.find(text) for text in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    assert "<strong>Lan Nguyen</strong>" in page and "<strong>Mai</strong>" in page
    assert "delivery-sent" in page or "delivery-delivered" in page  # per-message status
    assert "message_received" not in page  # the message itself is shown instead


async def test_the_customer_card_shows_value_contacts_tags_and_reason(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(harness, fake_telegram)
    async with harness.runtime.db.transaction() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        customer = await session.get_one(Customer, conversation.customer_id)
        customer.tags = ["vip", "spa"]
        customer.lifecycle_stage = "loyal"
        session.add(ContactPoint(customer_id=customer.id, kind="phone", value="+84912345678"))
        for amount, day, text in ((1_500_000, 3, "Facial"), (2_000_000, 9, "Massage package")):
            session.add(
                Purchase(
                    customer_id=customer.id,
                    description=text,
                    amount=amount,
                    currency="VND",
                    purchased_at=datetime(2026, 10, day, tzinfo=UTC),
                )
            )
    page = (
        await harness.client.get(f"/console/conversations/{conversation_id}", cookies=who.cookies)
    ).text
    card = page.split('class="customer-card"')[1].split("</aside>")[0]
    assert "Lan Nguyen" in card and "loyal" in card and "+84912345678" in card
    assert "3,500,000 VND" in card
    assert "Massage package (2,000,000 VND, 2026-10-09)" in card
    assert "vip" in card and "spa" in card
    assert "telegram: Lan" in card
    async with harness.runtime.db.reading() as session:
        reason = await session.scalar(
            select(TimelineEvent.data).where(
                TimelineEvent.conversation_id == conversation_id,
                TimelineEvent.kind == "status_changed",
            )
        )
    assert reason and reason["reason"] in card


async def test_a_note_never_creates_an_outbound_message(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(harness, fake_telegram)
    url = f"/console/conversations/{conversation_id}"
    outbound = await harness.count(Message, conversation_id=conversation_id, direction="out")

    noted = await post(harness, who, f"{url}/note", text="khách quen, gọi lại sau 5 giờ")
    assert noted.status_code == 303 and noted.headers["location"] == url
    prefixed = await post(harness, who, f"{url}/reply", text="note: đã kiểm tra đơn hàng")
    assert prefixed.headers["location"] == url
    empty = await post(harness, who, f"{url}/note", text="   ")
    assert empty.headers["location"].endswith("?error=empty_reply")

    await asyncio.sleep(0.3)
    await harness.settle()
    assert await harness.count(Message, conversation_id=conversation_id, direction="out") == (
        outbound
    )
    assert len(fake_telegram.sent()) == 1  # only the bot's handoff answer ever went out
    assert await harness.count(TimelineEvent, conversation_id=conversation_id, kind="note") == 2
    page = (await harness.client.get(url, cookies=who.cookies, headers=ENGLISH)).text
    assert "Internal note" in page and "khách quen, gọi lại sau 5 giờ" in page
    assert "đã kiểm tra đơn hàng" in page
    async with harness.runtime.db.reading() as session:
        status = await session.scalar(
            select(Conversation.status).where(Conversation.id == conversation_id)
        )
    assert status == "waiting_agent"  # a note takes no ownership


async def test_snooze_sets_snoozed_until_and_shows_it(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(harness, fake_telegram)
    url = f"/console/conversations/{conversation_id}"
    await post(harness, who, f"{url}/claim")

    before = utcnow()
    snoozed = await post(harness, who, f"{url}/snooze", until="1h")
    assert snoozed.headers["location"] == url
    async with harness.runtime.db.reading() as session:
        until = await session.scalar(
            select(Conversation.snoozed_until).where(Conversation.id == conversation_id)
        )
    assert until is not None
    assert before + timedelta(minutes=59) < until < utcnow() + timedelta(minutes=61)
    shown = until.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    page = (await harness.client.get(url, cookies=who.cookies, headers=ENGLISH)).text
    assert f"snoozed until {shown}" in page
    assert "Wake now" in page
    queue = (await harness.client.get("/console/queue", cookies=who.cookies)).text
    assert f"đến {shown}" in queue and "snoozed" in queue

    bad = await post(harness, who, f"{url}/snooze", until="next-year")
    assert bad.headers["location"].endswith("?error=invalid_time")
    shown_error = await harness.client.get(
        bad.headers["location"], cookies=who.cookies, headers=ENGLISH
    )
    assert "Choose when the snooze should end." in shown_error.text

    woken = await post(harness, who, f"{url}/unsnooze")
    assert woken.headers["location"] == url
    async with harness.runtime.db.reading() as session:
        conversation = await session.get_one(Conversation, conversation_id)
    assert conversation.snoozed_until is None


def test_snooze_choices_end_in_the_business_timezone() -> None:
    now = datetime(2026, 11, 3, 20, 30, tzinfo=UTC)  # 03:30 on the 4th in Ho Chi Minh City
    assert snooze_until("30m", now=now, tz=TZ) == now + timedelta(minutes=30)
    assert snooze_until("4h", now=now, tz=TZ) == now + timedelta(hours=4)
    tomorrow = snooze_until("tomorrow", now=now, tz=TZ)
    assert tomorrow == datetime(2026, 11, 5, 9, 0, tzinfo=TZ)
    assert tomorrow.astimezone(UTC) == datetime(2026, 11, 5, 2, 0, tzinfo=UTC)
    assert snooze_until("forever", now=now, tz=TZ) is None


async def test_availability_toggle_flips_the_agent(harness: Harness) -> None:
    agent_id = await add_agent(harness)
    who = await login(harness.client, harness)

    async def available() -> bool:
        async with harness.runtime.db.reading() as session:
            return bool(await session.scalar(select(Agent.available).where(Agent.id == agent_id)))

    page = (await harness.client.get("/console/queue", cookies=who.cookies)).text
    assert "Vắng mặt" in page and 'action="/console/availability"' in page
    on = await post(harness, who, "/console/availability", available="1", back="/console/queue")
    assert on.status_code == 303 and on.headers["location"] == "/console/queue"
    assert await available() is True
    page = (await harness.client.get("/console/queue", cookies=who.cookies)).text
    assert "presence-on" in page and "Sẵn sàng" in page

    forged = await harness.client.post(
        "/console/availability",
        data={"csrf": "guess", "available": "0"},
        cookies=who.cookies,
    )
    assert forged.status_code == 403 and await available() is True
    off = await post(harness, who, "/console/availability", available="0", back="//evil.test/")
    assert off.headers["location"] == "/console/queue"  # never an open redirect
    assert await available() is False


async def test_hostile_customer_text_is_escaped_everywhere(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(
        harness,
        fake_telegram,
        first="<img src=x onerror=alert(2)>",
        text="<script>alert(1)</script> cho mình gặp nhân viên",
    )
    url = f"/console/conversations/{conversation_id}"
    await post(harness, who, f"{url}/note", text="<script>alert(3)</script>")
    for path in (url, f"{url}/fragment", "/console/queue", "/console/queue/fragment"):
        response = await harness.client.get(path, cookies=who.cookies)
        assert response.status_code == 200, path
        assert "<script>alert" not in response.text and "<img src=x" not in response.text, path
        assert "&lt;img src=x onerror=alert(2)&gt;" in response.text, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    page = (await harness.client.get(url, cookies=who.cookies)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    fragment = (await harness.client.get(f"{url}/fragment", cookies=who.cookies)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment and "<html" not in fragment


async def test_actions_need_a_session_and_the_csrf_token(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await add_agent(harness)
    who = await login(harness.client, harness)
    conversation_id = await handed_off(harness, fake_telegram)
    url = f"/console/conversations/{conversation_id}"
    for action, extra in (("note", {"text": "x"}), ("snooze", {"until": "1h"}), ("claim", {})):
        forged = await harness.client.post(
            f"{url}/{action}", data={"csrf": "guess", **extra}, cookies=who.cookies
        )
        assert forged.status_code == 403, action
        anonymous = await harness.client.post(f"{url}/{action}", data={"csrf": who.csrf, **extra})
        assert anonymous.headers["location"] == "/console", action
    async with harness.runtime.db.reading() as session:
        conversation = await session.get_one(Conversation, conversation_id)
    assert conversation.status == "waiting_agent" and conversation.snoozed_until is None
    assert await harness.count(TimelineEvent, conversation_id=conversation_id, kind="note") == 0
    assert (await harness.client.get(f"{url}/fragment")).status_code == 401
