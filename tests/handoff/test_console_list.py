"""The console's conversation list: filters and search through the GET form, the next-page
link, a clear 400 for values it does not accept, and the same list for agents and supervisors."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from crm_core.enums import Role
from crm_core.models import Conversation, Customer, Identity, Message
from crm_core.types import new_id
from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram
from tests.handoff.console_helpers import console_user

LINK = re.compile(r'href="/console/conversations/([0-9a-f]{32})"')
NEXT = re.compile(r'<a href="(/console\?[^"]*cursor=[^"]+)" rel="next">')
START = datetime(2025, 6, 1, 3, tzinfo=UTC)


async def add_conversation(
    harness: Harness, *, name: str, channel: str, text: str, minutes: int, **fields: object
) -> str:
    """One customer with one conversation whose last activity is START + `minutes`."""
    async with harness.runtime.db.transaction() as session:
        customer = Customer(id=new_id(), name=name, tags=[])
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel=channel, external_id=new_id())
        session.add(identity)
        await session.flush()
        at = START + timedelta(minutes=minutes)
        conversation = Conversation(
            customer_id=customer.id,
            identity_id=identity.id,
            channel=channel,
            updated_at=at,
            **fields,
        )
        session.add(conversation)
        await session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                customer_id=customer.id,
                channel=channel,
                direction="in",
                author_type="customer",
                text=text,
                status="received",
                created_at=at,
            )
        )
        return conversation.id


def listed(page: str) -> list[str]:
    return LINK.findall(page)


async def test_filters_and_search_narrow_the_list_for_agents_and_supervisors(
    harness: Harness,
) -> None:
    booking = await add_conversation(
        harness, name="Lan", channel="telegram", text="Cho mình Đặt lịch nhé", minutes=3
    )
    sale = await add_conversation(
        harness, name="Bình", channel="zalo", text="giảm 50% không?", minutes=2, csat=5
    )
    other = await add_conversation(
        harness, name="Khoa", channel="zalo", text="giảm 500 nhé", minutes=1, status="resolved"
    )
    agent = await console_user(harness, Role.AGENT)
    supervisor = await console_user(harness, Role.SUPERVISOR)
    for user in (agent, supervisor):
        page = await harness.client.get("/console", cookies=user.cookies)
        assert page.status_code == 200
        assert listed(page.text) == [booking, sale, other]
        assert 'method="get" action="/console"' in page.text
    cases = [
        ({"channel": "zalo"}, [sale, other]),
        ({"status": "resolved"}, [other]),
        ({"csat": "5"}, [sale]),
        ({"handled": "bot"}, [booking, sale, other]),
        ({"handled": "agent"}, []),
        ({"q": "dat lich"}, [booking]),
        ({"q": "50%"}, [sale]),
        ({"q": "Khoa"}, [other]),
        ({"q": "giam", "channel": "zalo", "status": "", "severity": ""}, [sale, other]),
    ]
    for params, wanted in cases:
        page = await harness.client.get("/console", params=params, cookies=agent.cookies)
        assert page.status_code == 200, params
        assert listed(page.text) == wanted, params
    searched = await harness.client.get(
        "/console", params={"q": "dat lich"}, cookies=agent.cookies
    )
    assert "Cho mình Đặt lịch nhé" in searched.text  # the matching message as the snippet
    assert 'value="dat lich"' in searched.text  # the form keeps what was typed
    zalo = await harness.client.get("/console?channel=zalo", cookies=agent.cookies)
    assert '<option value="zalo" selected>' in zalo.text


async def test_the_next_page_link_walks_every_conversation_once(harness: Harness) -> None:
    made = [
        await add_conversation(
            harness, name=f"Khách {n}", channel="sms", text=f"tin {n}", minutes=n // 3
        )
        for n in range(57)
    ]
    user = await console_user(harness, Role.AGENT)
    first = await harness.client.get("/console?channel=sms", cookies=user.cookies)
    assert first.status_code == 200
    assert len(listed(first.text)) == 50 and "Trang sau" in first.text
    [next_url] = NEXT.findall(first.text)
    next_url = html.unescape(next_url)
    assert "channel=sms" in next_url  # the filters travel with the cursor
    second = await harness.client.get(next_url, cookies=user.cookies)
    assert second.status_code == 200
    assert len(listed(second.text)) == 7
    assert NEXT.findall(second.text) == [] and "Trang đầu" in second.text
    seen = listed(first.text) + listed(second.text)
    assert sorted(seen) == sorted(made) and len(set(seen)) == 57
    english = await harness.client.get(
        "/console?channel=sms", cookies=user.cookies, headers={"accept-language": "en"}
    )
    assert "Next page" in english.text and "Conversations" in english.text


async def test_a_value_the_list_does_not_accept_is_a_clear_400(harness: Harness) -> None:
    await add_conversation(harness, name="Lan", channel="telegram", text="xin chào", minutes=0)
    user = await console_user(harness, Role.SUPERVISOR)
    channel = await harness.client.get("/console?channel=fax", cookies=user.cookies)
    assert channel.status_code == 400
    assert "Kênh: “fax” không phải lựa chọn hợp lệ" in channel.text
    assert "telegram, zalo, sms, email, slack, webchat" in channel.text
    assert listed(channel.text) == [] and 'name="q"' in channel.text  # the form stays
    english = await harness.client.get(
        "/console?severity=apocalyptic", cookies=user.cookies, headers={"accept-language": "en"}
    )
    assert english.status_code == 400
    assert "Ticket severity: “apocalyptic” is not a choice here" in english.text
    for query in ("from=yesterday", "csat=9", "cursor=forged!", "from=2025-03-05&to=2025-03-01"):
        bad = await harness.client.get(f"/console?{query}", cookies=user.cookies)
        assert bad.status_code == 400, query
        assert 'role="alert"' in bad.text, query


async def test_signed_out_readers_get_the_login_form_and_text_stays_inert(
    harness: Harness,
) -> None:
    hostile = await add_conversation(
        harness,
        name="<img src=x onerror=alert(2)>",
        channel="webchat",
        text="<script>alert(1)</script> hi",
        minutes=0,
    )
    anonymous = await harness.client.get("/console?channel=webchat")
    assert anonymous.status_code == 200 and 'action="/console/login"' in anonymous.text
    assert hostile not in anonymous.text
    user = await console_user(harness, Role.AGENT)
    page = await harness.client.get("/console", cookies=user.cookies)
    assert listed(page.text) == [hostile]
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hi" in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text


async def test_the_rest_list_takes_the_same_search_and_filters(harness: Harness) -> None:
    booking = await add_conversation(
        harness, name="Lan", channel="telegram", text="Đặt lịch khám", minutes=2, csat=4
    )
    sale = await add_conversation(harness, name="Bình", channel="zalo", text="50% nhé", minutes=1)

    async def ids(**params: str) -> list[str]:
        answer = await harness.get("/api/v1/conversations", role=Role.AGENT, **params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert await ids(q="dat lich") == [booking]
    assert await ids(q="50%") == [sale]
    assert await ids(csat_min="4") == [booking]
    assert await ids(handled="bot") == [sale, booking]
    assert await ids(**{"from": "2025-06-01", "to": "2025-06-01"}) == [sale, booking]
    assert await ids(**{"from": "2025-06-02"}) == []
    for params in ({"severity": "apocalyptic"}, {"csat": "9"}, {"from": "soon"}):
        refused = await harness.get("/api/v1/conversations", **params)
        assert refused.status_code == 422, params
        assert refused.json()["error"]["code"] == "validation_error"
    backwards = await harness.get(
        "/api/v1/conversations", **{"from": "2025-06-02", "to": "2025-06-01"}
    )
    assert backwards.status_code == 422 and "to" in backwards.json()["error"]["message"]


async def test_a_message_that_came_in_through_a_webhook_is_found_without_marks(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    """Inbound messages are stored by a Core insert, not the ORM: they must be searchable too."""
    await harness.telegram(updates.text_update(880001, "Mình muốn ĐẶT LỊCH gội đầu", user_id=8801))
    await harness.telegram(updates.text_update(880002, "giá bao nhiêu", user_id=8802))
    await harness.settle()
    found = await harness.get("/api/v1/conversations", role=Role.AGENT, q="dat lich goi dau")
    assert found.status_code == 200
    items = found.json()["items"]
    assert len(items) == 1
    messages = await harness.get(f"/api/v1/conversations/{items[0]['id']}/messages")
    assert "ĐẶT LỊCH" in messages.json()["items"][0]["text"]
    user = await console_user(harness, Role.AGENT)
    page = await harness.client.get("/console", params={"q": "dat lich"}, cookies=user.cookies)
    assert LINK.findall(page.text) == [items[0]["id"]]
