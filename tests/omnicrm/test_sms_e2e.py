"""SMS through the whole platform over HTTP: Twilio-signed webhooks in, a fake Twilio API out."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from channels.base import OutboundMessage
from channels.sms import SmsAdapter
from crm_core import demo
from crm_core.models import Identity, InboxEvent, Message
from tests.conftest import Harness, make_settings, running_app
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    SMS_URL,
    STATUS_URL,
    FakeTwilio,
    inbound_form,
    signed,
    status_form,
    twilio_signature,
)

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def app(database_url: str, fake_twilio: FakeTwilio) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        None,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER,
        twilio_api_base=fake_twilio.url,
        twilio_max_sends_per_second=20.0,
        public_url=PUBLIC_URL,
    )
    async with running_app(settings) as harness:
        yield harness


async def post(
    harness: Harness,
    form: list[tuple[str, str]],
    *,
    url: str = SMS_URL,
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
) -> httpx.Response:
    """POST a form the way Twilio does: signed over the public URL it calls."""
    body, headers = signed(form, url=signed_url or url, token=token)
    return await harness.client.post(urlsplit(url).path, content=body, headers=headers)


async def status(harness: Harness, sid: str, value: str, **extra: Any) -> httpx.Response:
    form = status_form(sid, value, to="+84912345001", **extra)
    return await post(harness, form, url=STATUS_URL)


async def outbound(harness: Harness) -> list[Message]:
    async with harness.runtime.db.reading() as session:
        stmt = select(Message).where(Message.direction == "out").order_by(Message.created_at)
        return list((await session.execute(stmt)).scalars())


async def identity(harness: Harness, phone: str) -> Identity:
    async with harness.runtime.db.reading() as session:
        stmt = select(Identity).where(Identity.channel == "sms", Identity.external_id == phone)
        return (await session.execute(stmt)).scalar_one()


async def quiet(harness: Harness) -> None:
    """Settle, then leave time for anything wrongly queued to show up at the fake."""
    await harness.settle()
    await asyncio.sleep(0.3)


def assert_twiml(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == TWIML


# --- inbound and replies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sender"),
    [
        ("Xin chào, cho mình hỏi chút", "+84912345001"),
        ("Xin chao shop", "+84912345002"),
        ("hello there", "+14155550100"),
    ],
)
async def test_each_text_gets_one_reply_at_twilio(
    app: Harness, fake_twilio: FakeTwilio, text: str, sender: str
) -> None:
    response = await post(app, inbound_form("SM" + "1" * 32, sender, text))
    assert_twiml(response)
    [sent] = await fake_twilio.wait_for_sent(1)
    await quiet(app)
    assert sent["To"] == sender and sent["From"] == FROM_NUMBER
    assert sent["StatusCallback"] == STATUS_URL
    assert sent["Body"]
    assert len(fake_twilio.sent()) == 1
    assert all(call.authorized for call in fake_twilio.calls)

    [message] = await outbound(app)
    assert message.status == "sent"
    assert message.external_id == fake_twilio.calls[0].sid
    assert message.meta["encoding"] in ("GSM-7", "UCS-2")
    assert message.meta["segments"] >= 1

    found = (await app.get("/api/v1/customers", identity=f"sms:{sender}")).json()["items"]
    [customer] = found
    assert {"channel": "sms", "external_id": sender} in [
        {"channel": i["channel"], "external_id": i["external_id"]} for i in customer["identities"]
    ]
    inbound = (await app.get("/api/v1/messages", direction="in")).json()["items"]
    assert [m["text"] for m in inbound] == [text]


async def test_vietnamese_reply_is_billed_as_ucs2(app: Harness, fake_twilio: FakeTwilio) -> None:
    await post(app, inbound_form("SM" + "2" * 32, "+84912345001", "Xin chào shop"))
    [sent] = await fake_twilio.wait_for_sent(1)
    await app.settle()
    [message] = await outbound(app)
    body = sent["Body"]
    assert set(body) & set("ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựđơưă")  # not GSM-7
    assert message.meta["encoding"] == "UCS-2"
    # 70 UCS-2 units fit one SMS; concatenated parts carry 67 each (research §3.6).
    assert message.meta["segments"] == (1 if len(body) <= 70 else math.ceil(len(body) / 67))


async def test_known_verified_phone_joins_that_customer(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    async with app.runtime.db.transaction() as session:
        await demo.seed(session)
    await post(app, inbound_form("SM" + "3" * 32, "+84912345678", "chào shop"))
    [reply] = await fake_twilio.wait_for_sent(1)
    await app.settle()
    assert "Lan" in reply["Body"]
    [customer] = (await app.get("/api/v1/customers", identity="sms:+84912345678")).json()["items"]
    assert customer["name"] == "Nguyễn Thị Lan"
    assert "telegram" in {i["channel"] for i in customer["identities"]}


async def test_redelivered_message_sid_stores_one_message_and_one_reply(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    form = inbound_form("SM" + "4" * 32, "+84912345001", "Xin chào")
    first, second = await post(app, form), await post(app, form)
    assert_twiml(first)
    assert_twiml(second)
    await fake_twilio.wait_for_sent(1)
    await quiet(app)
    assert len(fake_twilio.sent()) == 1
    assert await app.count(Message, direction="in") == 1
    assert await app.count(InboxEvent) == 1


async def test_bad_or_missing_signature_is_refused_and_stores_nothing(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    form = inbound_form("SM" + "5" * 32, "+84912345001", "Xin chào")
    body, headers = signed(form)
    del headers["X-Twilio-Signature"]
    missing = await app.client.post("/webhooks/twilio/sms", content=body, headers=headers)
    wrong_token = await post(app, form, token="someone-else")
    internal_url = await post(app, form, signed_url="http://testserver/webhooks/twilio/sms")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_signature"
    assert (wrong_token.status_code, internal_url.status_code) == (403, 403)
    assert internal_url.json()["error"]["code"] == "bad_signature"
    await quiet(app)
    assert await app.count(InboxEvent) == 0
    assert await app.count(Message) == 0
    assert fake_twilio.calls == []


async def test_tampered_body_is_refused(app: Harness) -> None:
    body, headers = signed(inbound_form("SM" + "6" * 32, "+84912345001", "Xin chào"))
    tampered = body.replace(b"Xin", b"Bye")
    response = await app.client.post("/webhooks/twilio/sms", content=tampered, headers=headers)
    assert response.status_code == 403
    assert await app.count(InboxEvent) == 0


async def test_malformed_body_with_a_valid_signature_is_400(app: Harness) -> None:
    body = b'{"MessageSid": "SM1", "Body": "hi"}'
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, SMS_URL, [(body.decode(), "")]),
    }
    response = await app.client.post("/webhooks/twilio/sms", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_form"
    assert await app.count(InboxEvent) == 0


async def test_mms_with_two_media_keeps_both_as_attachments(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    base = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'7' * 32}/Media"
    media = [(f"{base}/ME1", "image/jpeg"), (f"{base}/ME2", "video/mp4")]
    form = inbound_form("MM" + "7" * 32, "+84912345001", "ảnh đây", media=media)
    assert_twiml(await post(app, form))
    await app.settle()
    [message] = (await app.get("/api/v1/messages", direction="in")).json()["items"]
    assert message["text"] == "ảnh đây"
    kinds = [(a["kind"], a["ref"], a["mime_type"]) for a in message["attachments"]]
    assert kinds == [("image", media[0][0], "image/jpeg"), ("video", media[1][0], "video/mp4")]


# --- status callbacks -------------------------------------------------------------------


async def _one_sent(app: Harness, fake_twilio: FakeTwilio) -> str:
    await post(app, inbound_form("SM" + "8" * 32, "+84912345001", "Xin chào"))
    await fake_twilio.wait_for_sent(1)
    await app.settle()
    sid = fake_twilio.calls[-1].sid
    assert sid is not None and sid.startswith("SM")
    return sid


async def _out_status(app: Harness) -> dict[str, Any]:
    [message] = (await app.get("/api/v1/messages", direction="out")).json()["items"]
    return dict(message)


async def test_delivered_callback_marks_our_message_delivered(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    sid = await _one_sent(app, fake_twilio)
    assert_twiml(await status(app, sid, "sent"))
    assert_twiml(await status(app, sid, "delivered"))
    assert (await _out_status(app))["status"] == "delivered"
    assert await app.count(InboxEvent) == 1  # callbacks are not customer messages


async def test_undelivered_callback_fails_the_message_with_its_code(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    sid = await _one_sent(app, fake_twilio)
    assert_twiml(await status(app, sid, "undelivered", error_code="30003"))
    message = await _out_status(app)
    assert message["status"] == "failed"
    assert "30003" in message["error"]
    [stored] = await outbound(app)
    assert stored.meta["error_code"] == "30003"


async def test_out_of_order_callbacks_keep_the_latest_status(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    sid = await _one_sent(app, fake_twilio)
    await status(app, sid, "delivered")
    await status(app, sid, "sent")
    await status(app, sid, "queued")
    assert (await _out_status(app))["status"] == "delivered"


async def test_status_callback_signed_for_another_url_is_refused(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    sid = await _one_sent(app, fake_twilio)
    form = status_form(sid, "delivered", to="+84912345001")
    response = await post(app, form, url=STATUS_URL, signed_url=SMS_URL)
    assert response.status_code == 403
    assert (await _out_status(app))["status"] == "sent"


# --- STOP / START (reliability.md #27) ---------------------------------------------------


async def test_stop_opts_out_blocks_later_replies_and_start_resubscribes(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    phone = "+84912345001"
    await post(app, inbound_form("SM" + "a" * 32, phone, "Xin chào"))
    await fake_twilio.wait_for_sent(1)
    await app.settle()

    assert_twiml(await post(app, inbound_form("SM" + "b" * 32, phone, " stop ")))
    await quiet(app)
    assert (await identity(app, phone)).opted_out_at is not None
    assert len(fake_twilio.calls) == 1  # no confirmation of ours: Twilio sends it

    await post(app, inbound_form("SM" + "c" * 32, phone, "chào shop"))
    await quiet(app)
    assert len(fake_twilio.calls) == 1  # blocked before the API call
    blocked = (await outbound(app))[-1]
    assert blocked.status == "failed"
    assert "opted out" in (blocked.error or "")
    inbound = (await app.get("/api/v1/messages", direction="in")).json()["items"]
    assert [m["text"] for m in inbound] == ["Xin chào", " stop ", "chào shop"]

    await post(app, inbound_form("SM" + "d" * 32, phone, "START"))
    await quiet(app)
    assert (await identity(app, phone)).opted_out_at is None
    assert len(fake_twilio.calls) == 1  # START is Twilio's to answer too

    await post(app, inbound_form("SM" + "e" * 32, phone, "hello again"))
    await fake_twilio.wait_for_sent(2)
    await quiet(app)
    assert len(fake_twilio.sent()) == 2


async def test_free_text_stop_is_an_ordinary_message(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    phone = "+84912345001"
    await post(app, inbound_form("SM" + "f" * 32, phone, "please stop texting me"))
    await app.settle()
    assert (await identity(app, phone)).opted_out_at is None


# --- delivery errors --------------------------------------------------------------------


async def test_twilio_21610_fails_without_retry_and_opts_the_identity_out(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.reject_next(21610, "Attempt to send to unsubscribed recipient")
    phone = "+84912345001"
    await post(app, inbound_form("SM" + "9" * 32, phone, "Xin chào"))
    await fake_twilio.wait_for_calls(1)
    await quiet(app)
    [message] = await outbound(app)
    assert message.status == "failed" and "opted out" in (message.error or "")
    assert message.attempts == 1
    assert len(fake_twilio.calls) == 1
    assert (await identity(app, phone)).opted_out_at is not None


async def test_invalid_number_fails_without_retry(app: Harness, fake_twilio: FakeTwilio) -> None:
    fake_twilio.reject_next(21211, "The 'To' number +84912345001 is not a valid phone number.")
    phone = "+84912345001"
    await post(app, inbound_form("SM" + "0" * 31 + "1", phone, "Xin chào"))
    await fake_twilio.wait_for_calls(1)
    await quiet(app)
    [message] = await outbound(app)
    assert message.status == "failed" and "invalid" in (message.error or "")
    assert len(fake_twilio.calls) == 1
    assert (await identity(app, phone)).opted_out_at is None


async def test_rate_limit_waits_for_retry_after_then_sends_once(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.rate_limit_next(retry_after=1)
    await post(app, inbound_form("SM" + "0" * 31 + "2", "+84912345001", "Xin chào"))
    await fake_twilio.wait_for_sent(1)
    await app.settle()
    refused, accepted = fake_twilio.calls
    assert (refused.status, accepted.status) == (429, 201)
    assert accepted.at - refused.at >= 1.0
    assert accepted.sid is not None
    await status(app, accepted.sid, "delivered")
    [message] = (await app.get("/api/v1/messages", direction="out")).json()["items"]
    assert message["status"] == "delivered"
    assert len(fake_twilio.sent()) == 1


async def test_server_errors_are_retried_until_one_send_succeeds(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.server_error_next(500)
    fake_twilio.server_error_next(503)
    await post(app, inbound_form("SM" + "0" * 31 + "3", "+84912345001", "Xin chào"))
    await fake_twilio.wait_for_sent(1, within=15)
    await quiet(app)
    assert [call.status for call in fake_twilio.calls] == [500, 503, 201]
    [message] = await outbound(app)
    assert message.status == "sent" and message.attempts == 3


# --- the adapter against the fake API ---------------------------------------------------


async def test_a_long_reply_goes_out_in_bodies_twilio_accepts(fake_twilio: FakeTwilio) -> None:
    sms = SmsAdapter(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base=fake_twilio.url,
        status_callback_url=STATUS_URL,
    )
    text = ("Dạ, bên em xin gửi lại thông tin chi tiết về dịch vụ. " * 40).strip()
    try:
        receipt = await sms.send(OutboundMessage("m1", "sms", "+84912345001", text))
    finally:
        await sms.close()
    bodies = [form["Body"] for form in fake_twilio.sent()]
    assert len(bodies) == 2 and all(len(body) <= 1600 for body in bodies)
    assert " ".join(bodies).split() == text.split()
    assert receipt.external_id == fake_twilio.calls[0].sid
    assert receipt.meta["encoding"] == "UCS-2"
    assert [len(body) for body in bodies] == [1598, 560]  # cut at the last space
    assert receipt.meta["segments"] == 24 + 9  # UCS-2: ceil(1598 / 67) + ceil(560 / 67)
    assert receipt.meta["parts"] == [call.sid for call in fake_twilio.calls]


async def test_messaging_service_sid_is_sent_as_the_sender_pool(fake_twilio: FakeTwilio) -> None:
    sms = SmsAdapter(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="MG" + "0" * 32,
        api_base=fake_twilio.url,
        status_callback_url=STATUS_URL,
    )
    try:
        receipt = await sms.send(OutboundMessage("m2", "sms", "+84912345001", "hello"))
    finally:
        await sms.close()
    [form] = fake_twilio.sent()
    assert form["MessagingServiceSid"] == "MG" + "0" * 32 and "From" not in form
    assert receipt.meta == {"segments": 1, "encoding": "GSM-7"}


async def test_yes_from_a_subscribed_customer_is_answered_like_any_message(
    app: Harness, fake_twilio: FakeTwilio
) -> None:
    """Twilio treats YES as opt-in only for an opted-out number; otherwise it is an answer."""
    response = await post(app, inbound_form("SM" + "7" * 32, "+84912345077", "YES"))
    assert_twiml(response)
    await fake_twilio.wait_for_sent(1)
    await quiet(app)
    [customer] = (await app.get("/api/v1/customers")).json()["items"]
    assert customer["identities"][0]["opted_out_at"] is None
