"""The customer 360° page: what it shows, masking for agents, merge decisions (supervisor and
up), unmerge, and the admin's export and erasure; no object reachable through another id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.enums import Role
from crm_core.merges import merge_customers
from crm_core.models import (
    Appointment,
    AuditLog,
    ContactPoint,
    Conversation,
    Customer,
    CustomerMerge,
    Identity,
    MergeSuggestion,
    Message,
    Purchase,
    Service,
    Ticket,
    TimelineEvent,
)
from crm_core.types import utcnow
from handoff.console.customer_timeline import Cursor, load_timeline
from handoff.console.i18n import translator
from handoff.console.timeline import Words
from tests.conftest import Harness, make_settings, running_app
from tests.handoff.console_helpers import ConsoleUser, console_user

PHONE = "+84912345678"
EMAIL = "mai.tran@example.com"


@dataclass(frozen=True)
class World:
    mai: str  # the customer whose page we open
    twin: str  # shares Mai's phone, unverified: a merge suggestion
    stranger: str  # an unrelated customer with her own suggestion and merge
    suggestion: str
    stranger_suggestion: str
    merge: str
    stranger_merge: str


async def _customer(session: AsyncSession, name: str, **fields: Any) -> Customer:
    customer = Customer(name=name, **fields)
    session.add(customer)
    await session.flush()
    return customer


async def _world(harness: Harness) -> World:
    now = utcnow()
    async with harness.runtime.db.transaction() as session:
        mai = await _customer(
            session, "Mai Tran", lifecycle_stage="customer", tags=["vip"], language="vi"
        )
        twin = await _customer(session, "Mai T.")
        stranger = await _customer(session, "Hoa Le")
        session.add_all(
            [
                ContactPoint(customer_id=mai.id, kind="phone", value=PHONE, verified=True),
                ContactPoint(customer_id=mai.id, kind="email", value=EMAIL),
                ContactPoint(customer_id=twin.id, kind="phone", value=PHONE),
            ]
        )
        telegram = Identity(customer_id=mai.id, channel="telegram", external_id="4200000777")
        sms = Identity(
            customer_id=mai.id,
            channel="sms",
            external_id=PHONE,
            opted_out_at=now - timedelta(days=1),
            opt_out_source="sms:STOP",
        )
        session.add_all([telegram, sms])
        await session.flush()
        conversation = Conversation(
            customer_id=mai.id, identity_id=telegram.id, channel="telegram"
        )
        session.add(conversation)
        await session.flush()
        for minutes, text in ((30, "first words"), (20, "cần đặt lịch"), (10, "latest words")):
            session.add(
                Message(
                    conversation_id=conversation.id,
                    customer_id=mai.id,
                    channel="telegram",
                    direction="in",
                    author_type="customer",
                    text=text,
                    status="received",
                    created_at=now - timedelta(minutes=minutes),
                )
            )
        session.add(
            TimelineEvent(
                customer_id=mai.id,
                conversation_id=conversation.id,
                kind="conversation_opened",
                actor_type="customer",
                data={"channel": "telegram"},
                created_at=now - timedelta(minutes=31),
            )
        )
        service = Service(
            key="facial", name_vi="Chăm sóc da", name_en="Facial", duration_minutes=60, price=1
        )
        session.add(service)
        await session.flush()
        for days, status in ((-5, "completed"), (2, "booked"), (9, "booked")):
            start = now + timedelta(days=days)
            session.add(
                Appointment(
                    customer_id=mai.id,
                    service_id=service.id,
                    starts_at=start,
                    ends_at=start + timedelta(hours=1),
                    status=status,
                    channel="telegram",
                )
            )
        session.add_all(
            [
                Ticket(
                    number=501,
                    customer_id=mai.id,
                    subject="Old closed problem",
                    status="closed",
                    severity="low",
                    created_at=now - timedelta(minutes=1),
                ),
                Ticket(
                    number=502,
                    customer_id=mai.id,
                    subject="Burning skin",
                    status="in_progress",
                    severity="urgent",
                    created_at=now - timedelta(days=3),
                ),
                Purchase(
                    customer_id=mai.id,
                    description="Serum",
                    amount=450000,
                    purchased_at=now - timedelta(days=4),
                ),
            ]
        )
        suggestion = MergeSuggestion(
            customer_id=twin.id, other_customer_id=mai.id, kind="phone", value=PHONE
        )
        other_twin = await _customer(session, "Hoa L.")
        stranger_suggestion = MergeSuggestion(
            customer_id=other_twin.id, other_customer_id=stranger.id, kind="email", value="h@x.vn"
        )
        session.add_all([suggestion, stranger_suggestion])
        old = await _customer(session, "Mai (old profile)")
        merge = await merge_customers(
            session, source_id=old.id, target=mai, reason="test", actor_type="system"
        )
        gone = await _customer(session, "Hoa (old)")
        stranger_merge = await merge_customers(
            session, source_id=gone.id, target=stranger, reason="test", actor_type="system"
        )
        await session.flush()
        return World(
            mai.id,
            twin.id,
            stranger.id,
            suggestion.id,
            stranger_suggestion.id,
            merge.id,
            stranger_merge.id,
        )


async def _users(harness: Harness) -> dict[Role, ConsoleUser]:
    return {role: await console_user(harness, role) for role in Role}


async def test_page_shows_the_whole_customer(harness: Harness) -> None:
    world = await _world(harness)
    users = await _users(harness)
    page = await harness.client.get(
        f"/console/customers/{world.mai}",
        cookies=users[Role.SUPERVISOR].cookies,
        headers={"accept-language": "en"},
    )
    assert page.status_code == 200
    html = page.text
    for shown in ("Mai Tran", PHONE, EMAIL, "4200000777", "vip", "customer", "Serum", "450,000"):
        assert shown in html, shown
    assert "Opted out" in html and "sms:STOP" in html  # consent per channel
    assert html.index("T-000502") < html.index("T-000501")  # the open ticket comes first
    soon = (utcnow() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    later = (utcnow() + timedelta(days=9)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert html.index(soon.strftime("%Y-%m-%d")) < html.index(later.strftime("%Y-%m-%d"))
    assert html.index("latest words") < html.index("cần đặt lịch") < html.index("first words")
    assert "conversation opened on telegram" in html.lower() or "conversation_opened" in html
    assert f"/suggestions/{world.suggestion}/accept" in html and "Mai T." in html
    assert f"/merges/{world.merge}/unmerge" in html
    assert f"{world.mai}/export" not in html and f"{world.mai}/erase" not in html  # admins
    admin = await harness.client.get(
        f"/console/customers/{world.mai}", cookies=users[Role.ADMIN].cookies
    )
    assert f"/console/customers/{world.mai}/export" in admin.text
    assert f"/console/customers/{world.mai}/erase" in admin.text
    agent = await harness.client.get(
        f"/console/customers/{world.mai}", cookies=users[Role.AGENT].cookies
    )
    assert agent.status_code == 200 and "Mai Tran" in agent.text
    assert "/accept" not in agent.text and "/unmerge" not in agent.text
    missing = await harness.client.get(
        "/console/customers/nobody", cookies=users[Role.AGENT].cookies
    )
    assert missing.status_code == 404
    harness.client.cookies.clear()  # the logins above left a session in the client's jar
    anonymous = await harness.client.get(f"/console/customers/{world.mai}")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console"


@pytest.mark.parametrize("masked", [True, False])
async def test_agents_see_masked_contacts_when_configured(database_url: str, masked: bool) -> None:
    async with running_app(make_settings(database_url, mask_contacts=masked)) as harness:
        world = await _world(harness)
        agent = await console_user(harness, Role.AGENT)
        boss = await console_user(harness, Role.SUPERVISOR)
        seen = (
            await harness.client.get(f"/console/customers/{world.mai}", cookies=agent.cookies)
        ).text
        full = (
            await harness.client.get(f"/console/customers/{world.mai}", cookies=boss.cookies)
        ).text
    assert (PHONE in seen) is not masked and (EMAIL in seen) is not masked
    assert ("+8491****678" in seen) is masked and ("m***@example.com" in seen) is masked
    assert PHONE in full and EMAIL in full and "+8491****678" not in full


async def test_agents_and_supervisors_are_refused_what_is_above_them(harness: Harness) -> None:
    world = await _world(harness)
    users = await _users(harness)
    merge_posts = [
        f"/console/customers/{world.mai}/suggestions/{world.suggestion}/accept",
        f"/console/customers/{world.mai}/suggestions/{world.suggestion}/reject",
        f"/console/customers/{world.mai}/merges/{world.merge}/unmerge",
    ]
    admin_posts = [
        f"/console/customers/{world.mai}/export",
        f"/console/customers/{world.mai}/erase",
    ]
    agent = users[Role.AGENT]
    for path in merge_posts + admin_posts:
        refused = await harness.client.post(
            path, data={"csrf": agent.csrf, "confirm": world.mai}, cookies=agent.cookies
        )
        assert refused.status_code == 403, path
    listing = await harness.client.get("/console/merge-suggestions", cookies=agent.cookies)
    assert listing.status_code == 403
    boss = users[Role.SUPERVISOR]
    for path in admin_posts:
        refused = await harness.client.post(
            path, data={"csrf": boss.csrf, "confirm": world.mai}, cookies=boss.cookies
        )
        assert refused.status_code == 403, path
    forged = await harness.client.post(
        merge_posts[1], data={"csrf": "guess"}, cookies=boss.cookies
    )
    assert forged.status_code == 403
    async with harness.runtime.db.reading() as session:
        suggestion = await session.get(MergeSuggestion, world.suggestion)
        customer = await session.get(Customer, world.mai)
        audit = (await session.scalars(select(AuditLog))).all()
    assert suggestion is not None and suggestion.status == "open"
    assert customer is not None and customer.erased_at is None and audit == []


async def test_no_object_is_reachable_through_another_customers_id(harness: Harness) -> None:
    world = await _world(harness)
    boss = (await _users(harness))[Role.SUPERVISOR]
    for path in (
        f"/console/customers/{world.mai}/suggestions/{world.stranger_suggestion}/accept",
        f"/console/customers/{world.mai}/suggestions/{world.stranger_suggestion}/reject",
        f"/console/customers/{world.mai}/merges/{world.stranger_merge}/unmerge",
        f"/console/customers/{world.stranger}/merges/{world.merge}/unmerge",
        f"/console/customers/{world.stranger}/suggestions/{world.suggestion}/accept",
    ):
        response = await harness.client.post(path, data={"csrf": boss.csrf}, cookies=boss.cookies)
        assert response.status_code == 404, path
    async with harness.runtime.db.reading() as session:
        statuses = {s.id: s.status for s in await session.scalars(select(MergeSuggestion))}
        merges = {m.id: m.unmerged_at for m in await session.scalars(select(CustomerMerge))}
    assert statuses[world.suggestion] == statuses[world.stranger_suggestion] == "open"
    assert merges[world.merge] is None and merges[world.stranger_merge] is None


async def test_accept_merges_reject_closes_unmerge_restores(harness: Harness) -> None:
    world = await _world(harness)
    boss = (await _users(harness))[Role.SUPERVISOR]
    accepted = await harness.client.post(
        f"/console/customers/{world.mai}/suggestions/{world.suggestion}/accept",
        data={"csrf": boss.csrf},
        cookies=boss.cookies,
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/console/customers/{world.mai}?done=merged"
    async with harness.runtime.db.reading() as session:
        assert await session.get(Customer, world.twin) is None  # Mai is older: she stays
        # Decided: the merged-away twin's suggestions go with her row.
        assert await session.get(MergeSuggestion, world.suggestion) is None
        twin_merge = await session.scalar(
            select(CustomerMerge).where(CustomerMerge.source_id == world.twin)
        )
    assert twin_merge is not None and twin_merge.target_id == world.mai
    again = await harness.client.post(
        f"/console/customers/{world.mai}/suggestions/{world.suggestion}/accept",
        data={"csrf": boss.csrf},
        cookies=boss.cookies,
    )
    assert again.status_code == 404  # nothing left to accept

    listing = await harness.client.get("/console/merge-suggestions", cookies=boss.cookies)
    assert listing.status_code == 200 and "Hoa L." in listing.text
    rejected = await harness.client.post(
        f"/console/customers/{world.stranger}/suggestions/{world.stranger_suggestion}/reject",
        data={"csrf": boss.csrf, "back": "list"},
        cookies=boss.cookies,
    )
    assert rejected.headers["location"] == "/console/merge-suggestions"
    listing = await harness.client.get("/console/merge-suggestions", cookies=boss.cookies)
    assert "Hoa L." not in listing.text

    undone = await harness.client.post(
        f"/console/customers/{world.mai}/merges/{twin_merge.id}/unmerge",
        data={"csrf": boss.csrf},
        cookies=boss.cookies,
    )
    assert undone.headers["location"] == f"/console/customers/{world.mai}?done=unmerged"
    async with harness.runtime.db.reading() as session:
        restored = await session.get(Customer, world.twin)
        rejected_row = await session.get(MergeSuggestion, world.stranger_suggestion)
        points = list(
            await session.scalars(
                select(ContactPoint.value).where(ContactPoint.customer_id == world.twin)
            )
        )
    assert restored is not None and restored.name == "Mai T." and points == [PHONE]
    assert rejected_row is not None and rejected_row.status == "dismissed"
    page = await harness.client.get(f"/console/customers/{world.mai}", cookies=boss.cookies)
    assert f"/merges/{twin_merge.id}/unmerge" not in page.text  # done once, not offered again


async def test_admin_exports_and_erases_from_the_page(harness: Harness) -> None:
    world = await _world(harness)
    admin = (await _users(harness))[Role.ADMIN]
    export = await harness.client.post(
        f"/console/customers/{world.mai}/export", data={"csrf": admin.csrf}, cookies=admin.cookies
    )
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    assert export.json()["customer"]["name"] == "Mai Tran"
    wrong = await harness.client.post(
        f"/console/customers/{world.mai}/erase",
        data={"csrf": admin.csrf, "confirm": world.stranger},
        cookies=admin.cookies,
    )
    assert wrong.headers["location"] == f"/console/customers/{world.mai}?error=confirm"
    erased = await harness.client.post(
        f"/console/customers/{world.mai}/erase",
        data={"csrf": admin.csrf, "confirm": world.mai},
        cookies=admin.cookies,
    )
    assert erased.headers["location"] == f"/console/customers/{world.mai}?done=erased"
    page = await harness.client.get(
        erased.headers["location"], cookies=admin.cookies, headers={"accept-language": "en"}
    )
    assert page.status_code == 200 and "Erased customer" in page.text
    for gone in ("Mai Tran", PHONE, EMAIL, "4200000777", "latest words", "vip"):
        assert gone not in page.text, gone
    assert "T-000502" in page.text and "450,000" in page.text  # the PII-free record stays
    assert "/erase" not in page.text
    async with harness.runtime.db.reading() as session:
        actions = [a.action for a in await session.scalars(select(AuditLog))]
        stranger = await session.get(Customer, world.stranger)
    assert sorted(actions) == ["customer_erase", "customer_export"]
    assert stranger is not None and stranger.erased_at is None
    again = await harness.client.post(
        f"/console/customers/{world.mai}/erase",
        data={"csrf": admin.csrf, "confirm": world.mai},
        cookies=admin.cookies,
    )
    assert again.headers["location"].endswith("?done=already_erased")
    unknown = await harness.client.post(
        "/console/customers/nobody/erase",
        data={"csrf": admin.csrf, "confirm": "nobody"},
        cookies=admin.cookies,
    )
    assert unknown.status_code == 404


async def test_timeline_pages_newest_first_without_gaps(harness: Harness) -> None:
    world = await _world(harness)
    words = Words(t=translator("en"), tz=ZoneInfo("UTC"), agent_names={})
    seen: list[str] = []
    cursor: Cursor | None = None
    async with harness.runtime.db.reading() as session:
        whole = await load_timeline(session, world.mai, customer_name="Mai", words=words)
        for _ in range(10):
            page = await load_timeline(
                session, world.mai, customer_name="Mai", words=words, before=cursor, limit=2
            )
            seen += [entry.key for entry in page.entries]
            if page.next_cursor is None:
                break
            cursor = Cursor.decode(page.next_cursor)
    assert whole.next_cursor is None
    assert seen == [entry.key for entry in whole.entries]
    assert len(seen) == len(set(seen)) >= 5
    times = [entry.at for entry in whole.entries]
    assert times == sorted(times, reverse=True)
