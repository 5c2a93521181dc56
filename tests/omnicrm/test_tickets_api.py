"""Tickets over REST: roles, filters, keyset pages, PATCH rules, and the customer is told."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from crm_core.auth import create_agent
from crm_core.enums import Role
from crm_core.models import Conversation, Ticket, TimelineEvent
from crm_core.types import utcnow
from tests.conftest import Harness


async def _call(
    harness: Harness, method: str, path: str, role: Role = Role.AGENT, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await harness.key(role)}"}
    return await harness.client.request(method, path, headers=headers, **kwargs)


async def _webchat_customer(harness: Harness) -> tuple[dict[str, str], str]:
    """A web chat visitor who said hello; returns (session, conversation id)."""
    response = await harness.client.post("/api/v1/webchat/sessions", json={})
    session = response.json()
    await harness.client.post(
        "/api/v1/webchat/messages",
        json={"session_id": session["session_id"], "text": "Xin chào", "client_message_id": "h1"},
        headers={"X-Webchat-Token": session["token"]},
    )
    await harness.settle()
    async with harness.runtime.db.reading() as db:
        conversation_id = await db.scalar(
            select(Conversation.id).where(Conversation.customer_id == session["customer_id"])
        )
    assert conversation_id is not None
    return session, conversation_id


async def _open(harness: Harness, customer_id: str, **body: Any) -> dict[str, Any]:
    payload = {"customer_id": customer_id, "subject": "Khiếu nại", **body}
    response = await _call(harness, "POST", "/api/v1/tickets", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


async def test_agent_opens_a_ticket_rated_from_its_wording(harness: Harness) -> None:
    session, conversation_id = await _webchat_customer(harness)
    ticket = await _open(
        harness,
        session["customer_id"],
        description="Tôi bị dị ứng sau khi dùng kem",
        order_id="DH-7",
        conversation_id=conversation_id,
    )
    assert ticket["label"] == "T-000001" and ticket["number"] == 1
    assert (ticket["severity"], ticket["status"], ticket["breached"]) == ("urgent", "new", False)
    assert ticket["order_id"] == "DH-7" and ticket["conversation_id"] == conversation_id
    opened = ticket["created_at"]
    due = ticket["sla_due_at"]
    assert _hours_between(opened, due) == 2
    chosen = await _open(harness, session["customer_id"], description="x", severity="low")
    assert chosen["severity"] == "low" and chosen["number"] == 2
    fetched = await _call(harness, "GET", f"/api/v1/tickets/{ticket['id']}")
    assert fetched.status_code == 200 and fetched.json() == ticket


def _hours_between(start: str, end: str) -> float:
    from datetime import datetime

    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return delta.total_seconds() / 3600


async def test_roles_and_bad_requests(harness: Harness) -> None:
    session, _ = await _webchat_customer(harness)
    anonymous = await harness.client.get("/api/v1/tickets")
    assert anonymous.status_code == 401
    missing = await _call(harness, "GET", "/api/v1/tickets/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    stranger = await _call(
        harness, "POST", "/api/v1/tickets", json={"customer_id": "nobody", "subject": "x"}
    )
    assert stranger.status_code == 422
    smuggled = await _call(
        harness,
        "POST",
        "/api/v1/tickets",
        json={"customer_id": session["customer_id"], "subject": "x", "number": 99},
    )
    assert smuggled.status_code == 422
    bad = await _call(harness, "GET", "/api/v1/tickets", params={"status": "archived"})
    assert bad.status_code == 422


async def test_patch_moves_status_and_tells_the_customer(harness: Harness) -> None:
    session, conversation_id = await _webchat_customer(harness)
    ticket = await _open(
        harness, session["customer_id"], description="đến trễ", conversation_id=conversation_id
    )
    path = f"/api/v1/tickets/{ticket['id']}"
    moved = await _call(harness, "PATCH", path, json={"status": "in_progress"})
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
    illegal = await _call(harness, "PATCH", path, json={"status": "closed"})
    assert illegal.status_code == 409
    assert illegal.json()["error"]["code"] == "illegal_transition"
    resolved = await _call(harness, "PATCH", path, json={"status": "resolved"})
    assert resolved.json()["resolved_at"] is not None
    texts = await _system_messages(harness, session, 2)
    assert texts == [
        "Yêu cầu T-000001 của bạn đang được xử lý. Chúng tôi sẽ báo lại khi có kết quả.",
        "Yêu cầu T-000001 đã được giải quyết. Nếu vấn đề vẫn còn, bạn cứ nhắn lại "
        "để chúng tôi mở lại yêu cầu nhé.",
    ]


async def _system_messages(harness: Harness, session: dict[str, str], count: int) -> list[str]:
    """The system messages the visitor's web chat shows, once `count` have arrived."""
    texts: list[str] = []
    for _ in range(100):
        response = await harness.client.get(
            "/api/v1/webchat/messages",
            params={"session_id": session["session_id"]},
            headers={"X-Webchat-Token": session["token"]},
        )
        texts = [m["text"] for m in response.json()["items"] if m["author_type"] == "system"]
        if len(texts) >= count:
            return texts
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} system messages, got {texts}")


async def test_patch_refuses_other_fields_and_nulls(harness: Harness) -> None:
    session, _ = await _webchat_customer(harness)
    ticket = await _open(harness, session["customer_id"], description="đến trễ")
    path = f"/api/v1/tickets/{ticket['id']}"
    for body in (
        {"number": 5},
        {"customer_id": "someone-else"},
        {"sla_due_at": "2030-01-01T00:00:00Z"},
        {"status": None},
        {"severity": "critical"},
        {"assigned_agent_id": "no-such-agent"},
    ):
        response = await _call(harness, "PATCH", path, json=body)
        assert response.status_code == 422, body
    unchanged = (await _call(harness, "GET", path)).json()
    assert unchanged == ticket


async def test_patch_severity_recomputes_sla_and_assigns(harness: Harness) -> None:
    session, _ = await _webchat_customer(harness)
    ticket = await _open(harness, session["customer_id"], description="đến trễ")
    assert ticket["severity"] == "normal"
    async with harness.runtime.db.transaction() as db:
        agent = await create_agent(
            db, email="an@example.com", role=Role.AGENT, password="password1", name="An"
        )
    path = f"/api/v1/tickets/{ticket['id']}"
    response = await _call(
        harness, "PATCH", path, json={"severity": "high", "assigned_agent_id": agent.id}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["severity"] == "high" and body["assigned_agent_id"] == agent.id
    assert _hours_between(body["created_at"], body["sla_due_at"]) == 8
    unassigned = await _call(harness, "PATCH", path, json={"assigned_agent_id": None})
    assert unassigned.json()["assigned_agent_id"] is None
    async with harness.runtime.db.reading() as db:
        kinds = list(
            (
                await db.execute(
                    select(TimelineEvent.kind).where(TimelineEvent.kind.like("ticket_%"))
                )
            ).scalars()
        )
    assert sorted(kinds) == [
        "ticket_assigned",
        "ticket_assigned",
        "ticket_opened",
        "ticket_severity_changed",
    ]


async def test_filters_and_pages(harness: Harness) -> None:
    first, _ = await _webchat_customer(harness)
    second = (await harness.client.post("/api/v1/webchat/sessions", json={})).json()
    urgent = await _open(harness, first["customer_id"], description="bị bỏng")
    low = await _open(harness, first["customer_id"], description="góp ý nhỏ", severity="low")
    other = await _open(harness, second["customer_id"], description="đến trễ")
    async with harness.runtime.db.transaction() as db:
        late = await db.get(Ticket, urgent["id"])
        assert late is not None
        late.sla_due_at = utcnow() - timedelta(minutes=1)

    async def ids(**params: Any) -> list[str]:
        response = await _call(harness, "GET", "/api/v1/tickets", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [other["id"], low["id"], urgent["id"]]
    assert await ids(customer_id=first["customer_id"]) == [low["id"], urgent["id"]]
    assert await ids(severity="low") == [low["id"]]
    assert await ids(breached="true") == [urgent["id"]]
    assert await ids(breached="false") == [other["id"], low["id"]]
    assert await ids(status="new", customer_id=second["customer_id"]) == [other["id"]]
    assert await ids(status="resolved") == []
    page = await _call(harness, "GET", "/api/v1/tickets", params={"limit": 2})
    assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    rest = await _call(
        harness,
        "GET",
        "/api/v1/tickets",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
    )
    assert [t["id"] for t in rest.json()["items"]] == [urgent["id"]]
    assert rest.json()["next_cursor"] is None
    breached = (await _call(harness, "GET", f"/api/v1/tickets/{urgent['id']}")).json()
    assert breached["breached"] is True
