"""Zalo OA events through the whole platform, over HTTP, against a fake Zalo OpenAPI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from crm_core.channel_state import ChannelStateStore
from crm_core.conversations import add_outbound
from crm_core.models import Conversation, InboxEvent, Message, TimelineEvent
from crm_core.types import utcnow
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import zalo as fz
from tests.fakes.zalo import FakeZalo


@pytest.fixture
async def fake_zalo() -> AsyncIterator[FakeZalo]:
    fake = await FakeZalo().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def app(database_url: str, fake_zalo: FakeZalo) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        None,
        zalo_app_id=fz.APP_ID,
        zalo_app_secret=fz.APP_SECRET,
        zalo_oa_secret_key=fz.OA_SECRET_KEY,
        zalo_access_token=fake_zalo.access_token,
        zalo_refresh_token=fake_zalo.refresh_token,
        zalo_api_base=fake_zalo.url,
        zalo_oauth_base=fake_zalo.url,
    )
    async with running_app(settings) as running:
        yield running


async def _post(
    harness: Harness, payload: dict[str, Any] | bytes, *, signature: str | None = "sign"
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else fz.encode(payload)
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-ZEvent-Signature"] = fz.sign(body)
    elif signature is not None:
        headers["X-ZEvent-Signature"] = signature
    return await harness.client.post("/webhooks/zalo", content=body, headers=headers)


async def _outbound(harness: Harness) -> list[Message]:
    async with harness.runtime.db.reading() as session:
        stmt = select(Message).where(Message.direction == "out").order_by(Message.created_at)
        return list((await session.execute(stmt)).scalars())


@pytest.mark.parametrize(
    ("text", "user_id"),
    [
        ("Xin chào shop", "6142494823100000201"),
        ("toi muon hoi gio mo cua", "6142494823100000202"),
        ("Hello, what time do you open?", "6142494823100000203"),
    ],
)
async def test_message_gets_one_reply_to_the_sender(
    app: Harness, fake_zalo: FakeZalo, text: str, user_id: str
) -> None:
    response = await _post(app, fz.text_event(f"msg-{user_id}", text, user_id=user_id))
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
    [sent] = await fake_zalo.wait_for_sent(1)
    await app.settle()
    await asyncio.sleep(0.3)  # a wrongly queued second reply would show up here
    assert len(fake_zalo.sent()) == 1
    assert sent["recipient"] == {"user_id": user_id}
    assert sent["message"]["text"]
    assert fake_zalo.sent_calls()[0].headers["access_token"] == "at-initial"

    found = await app.get("/api/v1/customers", identity=f"zalo:{user_id}")
    [customer] = found.json()["items"]
    messages = (await app.get("/api/v1/messages", customer_id=customer["id"])).json()["items"]
    assert [(m["direction"], m["channel"]) for m in messages] == [("in", "zalo"), ("out", "zalo")]
    assert messages[0]["text"] == text
    assert messages[1]["status"] == "sent" and messages[1]["text"] == sent["message"]["text"]


async def test_same_event_twice_stores_one_message_and_sends_one_reply(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    event = fz.text_event("dup-msg-1", "Xin chào shop")
    first, second = await _post(app, event), await _post(app, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["stored"], second.json()["duplicates"]) == (1, 1)
    await fake_zalo.wait_for_sent(1)
    await app.settle()
    await asyncio.sleep(0.3)
    assert len(fake_zalo.sent()) == 1
    assert await app.count(Message, direction="in") == 1
    assert await app.count(InboxEvent) == 1


@pytest.mark.parametrize(
    ("signature", "status", "code"),
    [
        (None, 401, "missing_signature"),
        ("mac=" + "0" * 64, 403, "bad_signature"),
        ("wrong", 403, "bad_signature"),
    ],
)
async def test_bad_or_missing_signature_is_refused_and_stores_nothing(
    app: Harness, fake_zalo: FakeZalo, signature: str | None, status: int, code: str
) -> None:
    response = await _post(app, fz.text_event("forged-1", "Xin chào"), signature=signature)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert await app.count(InboxEvent) == 0
    assert await app.count(Message) == 0
    assert fake_zalo.calls == []


async def test_signature_with_the_app_secret_instead_of_the_oa_key_is_refused(
    app: Harness,
) -> None:
    body = fz.encode(fz.text_event("forged-2", "Xin chào"))
    response = await _post(app, body, signature=fz.sign(body, secret=fz.APP_SECRET))
    assert response.status_code == 403
    assert await app.count(InboxEvent) == 0


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (b'{"event_name": "user_send_text", "timestamp": "1699003881354", ', "malformed_json", ""),
        (b'{"event_name": "user_send_text"}', "invalid_payload", "timestamp"),
        (
            b'{"event_name": "user_send_text", "timestamp": "1699003881354"}',
            "invalid_payload",
            "sender",
        ),
    ],
)
async def test_malformed_body_is_a_400_and_stores_nothing(
    app: Harness, body: bytes, code: str, where: str
) -> None:
    # Signed when the body allows it: the 400 must come from the content, not the signature.
    signature = fz.sign(body) if where == "sender" else "mac=" + "0" * 64
    response = await _post(app, body, signature=signature)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and where in error["message"]
    assert await app.count(InboxEvent) == 0
    assert await app.count(Message) == 0


async def test_image_becomes_a_message_with_an_attachment(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    url = "https://photo-stal.zadn.vn/abc.jpg"
    event = fz.media_event("image", "img-msg-1", {"url": url, "thumbnail": url}, text="Ảnh")
    assert (await _post(app, event)).status_code == 200
    await app.settle()
    [message] = (await app.get("/api/v1/messages", direction="in")).json()["items"]
    assert message["channel"] == "zalo" and message["text"] == "Ảnh"
    assert [(a["kind"], a["ref"]) for a in message["attachments"]] == [("image", url)]


async def test_submitted_phone_is_verified_and_joins_the_customer_who_has_it(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    first_user, second_user = "6142494823100000301", "6142494823100000302"
    await _post(app, fz.submit_info_event(phone="84912345678", user_id=first_user))
    await app.settle()
    found = (await app.get("/api/v1/customers", phone="+84912345678")).json()["items"]
    [customer] = found
    assert customer["phones"] == ["+84912345678"]
    assert customer["name"] == "Lan Nguyen"
    detail = (await app.get(f"/api/v1/customers/{customer['id']}")).json()
    [point] = [p for p in detail["contact_points"] if p["kind"] == "phone"]
    assert point["verified"] is True

    # A second Zalo handle submits the same phone through Zalo's form: one customer.
    await _post(app, fz.text_event("join-msg-1", "Xin chào", user_id=second_user))
    await app.settle()
    await _post(app, fz.submit_info_event(phone="0912 345 678", user_id=second_user))
    await app.settle()
    [joined] = (await app.get("/api/v1/customers", phone="+84912345678")).json()["items"]
    assert joined["id"] == customer["id"]
    assert sorted(i["external_id"] for i in joined["identities"]) == [first_user, second_user]
    assert (await app.get("/api/v1/customers", identity=f"zalo:{second_user}")).json()["items"][0][
        "id"
    ] == customer["id"]


async def test_seen_receipt_marks_our_message_read(app: Harness, fake_zalo: FakeZalo) -> None:
    await _post(app, fz.text_event("seen-msg-1", "Xin chào shop"))
    await fake_zalo.wait_for_sent(1)
    await app.settle()
    [ours] = await _outbound(app)
    assert ours.external_id  # Zalo's message_id, kept for receipts
    received = await _post(app, fz.receipt_event("user_received_message", ours.external_id))
    assert received.json()["statuses"] == 1
    response = await _post(
        app, fz.receipt_event("user_seen_message", ["unknown", ours.external_id])
    )
    assert response.status_code == 200 and response.json()["statuses"] == 1
    [read] = (await app.get("/api/v1/messages", direction="out", status="read")).json()["items"]
    assert read["id"] == ours.id
    assert await app.count(InboxEvent) == 1  # receipts are not inbox events


async def test_expired_token_is_refreshed_and_the_new_refresh_token_is_stored(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    fake_zalo.expire_access_token()
    await _post(app, fz.text_event("exp-msg-1", "Xin chào shop"))
    await fake_zalo.wait_for_sent(1)
    await app.settle()
    assert [c.outcome for c in fake_zalo.calls] == ["refused", "refreshed", "sent"]
    assert "rt-initial" in fake_zalo.used_refresh_tokens
    stored = await ChannelStateStore(app.runtime.db, "zalo").get("oauth")
    assert stored is not None
    assert stored["refresh_token"] == fake_zalo.refresh_token != "rt-initial"
    assert stored["access_token"] == fake_zalo.access_token
    [message] = await _outbound(app)
    assert (message.status, message.attempts) == ("sent", 1)


async def test_rate_limit_waits_for_retry_after_then_delivers_once(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    fake_zalo.script(429, {"error": -32, "message": "Too many requests"}, Retry_After="1")
    await _post(app, fz.text_event("rl-msg-1", "Xin chào shop"))
    await fake_zalo.wait_for_sent(1)
    await app.settle()
    scripted, delivered = fake_zalo.send_attempts()
    assert (scripted.outcome, delivered.outcome) == ("scripted", "sent")
    assert delivered.at - scripted.at >= 1.0
    assert len(fake_zalo.sent()) == 1
    [message] = await _outbound(app)
    assert (message.status, message.attempts) == ("sent", 2)


async def test_server_errors_are_retried_until_delivered_once(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    fake_zalo.script(500, {"error": -1, "message": "internal"})
    fake_zalo.script(503, "<html>Service Unavailable</html>")
    await _post(app, fz.text_event("5xx-msg-1", "Xin chào shop"))
    await fake_zalo.wait_for_sent(1, within=15)
    await app.settle(within=15)
    assert [c.outcome for c in fake_zalo.send_attempts()] == ["scripted", "scripted", "sent"]
    [message] = await _outbound(app)
    assert (message.status, message.attempts) == ("sent", 3)


async def test_reply_after_the_window_is_not_sent_and_says_why(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    await _post(app, fz.text_event("win-msg-1", "Xin chào shop"))
    await fake_zalo.wait_for_sent(1)
    await app.settle()
    async with app.runtime.db.transaction() as session:
        # The customer's last message was three days ago.
        await session.execute(
            update(Message)
            .where(Message.direction == "in")
            .values(created_at=utcnow() - timedelta(days=3))
        )
        conversation = (await session.execute(select(Conversation))).scalar_one()
        late = add_outbound(session, conversation, text="Shop xin phản hồi", author_type="agent")
    app.runtime.dispatcher.wake()
    await app.settle()
    failed = (await app.get("/api/v1/messages", status="failed")).json()["items"]
    assert [m["id"] for m in failed] == [late.id]
    assert "48 h" in failed[0]["error"]
    assert len(fake_zalo.send_attempts()) == 1  # only the first, in-window reply


async def test_window_closed_by_zalo_fails_without_retry(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    fake_zalo.script(200, {"error": -230, "message": "User has not interacted in 7 days"})
    await _post(app, fz.text_event("w230-msg-1", "Xin chào shop"))
    await app.settle()
    await asyncio.sleep(0.3)
    [message] = await _outbound(app)
    assert message.status == "failed" and "-230" in (message.error or "")
    assert len(fake_zalo.send_attempts()) == 1


async def test_oa_echo_is_ignored_and_nothing_is_stored(app: Harness, fake_zalo: FakeZalo) -> None:
    response = await _post(app, fz.echo_event("echo-1", "Cảm ơn bạn đã liên hệ"))
    assert response.status_code == 200
    assert "echo" in response.json()["ignored"]
    assert await app.count(InboxEvent) == 0
    assert await app.count(Message) == 0
    assert fake_zalo.calls == []


async def test_follow_is_on_the_timeline_without_a_reply(
    app: Harness, fake_zalo: FakeZalo
) -> None:
    user_id = "6142494823100000401"
    response = await _post(app, fz.follow_event("follow", user_id=user_id))
    assert response.json()["stored"] == 1
    await _post(app, fz.follow_event("unfollow", user_id=user_id))
    await app.settle()
    await asyncio.sleep(0.2)
    [customer] = (await app.get("/api/v1/customers", identity=f"zalo:{user_id}")).json()["items"]
    kinds = [
        e["kind"]
        for e in (await app.get(f"/api/v1/customers/{customer['id']}/timeline")).json()["items"]
    ]
    assert "followed" in kinds and "unfollowed" in kinds
    assert await app.count(Message) == 0
    assert await app.count(TimelineEvent, customer_id=customer["id"]) >= 2
    assert fake_zalo.calls == []
