"""E-mail through the whole platform: signed raw mail over HTTP in, replies at a local SMTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from channels.base import InboundEvent
from channels.email_imap import ImapPoller, poll_into
from conversations import inbox
from crm_core.channel_state import ChannelStateStore
from crm_core.models import InboxEvent, Message
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import mails
from tests.fakes.imap import FakeImap

SECRET = "email-webhook-secret-1"
SUPPORT = mails.SUPPORT


@dataclass
class SmtpSink:
    """aiosmtpd handler: keeps every accepted mail; can refuse or defer recipients."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    defer_next: int = 0  # answer RCPT with 451 this many times
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        if self.defer_next > 0:
            self.defer_next -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def mails(self) -> list[EmailMessage]:
        with self.lock:
            raws = [content for _, _, content in self.received]
        parsed = [message_from_bytes(raw, policy=policy.default) for raw in raws]
        return [mail for mail in parsed if isinstance(mail, EmailMessage)]

    async def wait_for(self, count: int, within: float = 10.0) -> list[EmailMessage]:
        async with asyncio.timeout(within):
            # Polled: aiosmtpd's controller runs in its own thread, not on this loop.
            while len(self.mails()) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return self.mails()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=_free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
async def app(database_url: str, smtp: SmtpSink) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        None,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        email_from=SUPPORT,
        email_webhook_secret=SECRET,
    )
    async with running_app(settings) as running:
        yield running


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _post(
    harness: Harness, raw: bytes, *, signature: str | None = "valid"
) -> httpx.Response:
    headers = {"Content-Type": "message/rfc822"}
    if signature == "valid":
        headers["X-Omnicrm-Signature"] = _sign(raw)
    elif signature is not None:
        headers["X-Omnicrm-Signature"] = signature
    return await harness.client.post("/webhooks/email", content=raw, headers=headers)


async def _messages(harness: Harness, **params: Any) -> list[dict[str, Any]]:
    response = await harness.get("/api/v1/messages", channel="email", **params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _ids(value: object) -> list[str]:
    return [token.strip("<>") for token in str(value or "").split()]


@pytest.mark.parametrize(
    ("raw", "customer_id", "subject", "vietnamese"),
    [
        (mails.vietnamese_qp(), "CAF7u1Qp2vXk3r@mail.gmail.com", "Hỏi về đơn hàng #1025", True),
        (
            mails.plain(
                "Chao shop, cho em hoi gia cham soc da mat bao nhieu a?",
                subject="Hoi gia",
                message_id="no-accents-1@example.vn",
            ),
            "no-accents-1@example.vn",
            "Hoi gia",
            True,
        ),
        (
            mails.plain(
                "Hello, what are your opening hours on Sunday?",
                subject="Opening hours",
                message_id="english-1@example.vn",
            ),
            "english-1@example.vn",
            "Opening hours",
            False,
        ),
    ],
    ids=["vietnamese", "without-diacritics", "english"],
)
async def test_a_mail_gets_exactly_one_threaded_reply(
    app: Harness,
    smtp: SmtpSink,
    raw: bytes,
    customer_id: str,
    subject: str,
    vietnamese: bool,
) -> None:
    response = await _post(app, raw)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1

    [reply] = await smtp.wait_for(1)
    await app.settle()
    await asyncio.sleep(0.3)  # room for a wrong second reply to show up
    assert len(smtp.mails()) == 1
    sender = mails.LAN if customer_id.startswith("CAF7") else mails.MINH
    assert smtp.received[0][:2] == (SUPPORT, [sender])
    assert reply["To"].addresses[0].addr_spec == sender
    assert reply["In-Reply-To"] == f"<{customer_id}>"
    assert _ids(reply["References"]) == [customer_id]
    assert reply["Subject"] == f"Re: {subject}"
    own_id = _ids(reply["Message-ID"])[0]
    assert own_id.startswith("omnicrm-") and own_id.endswith("@omnispa.example")
    assert reply["Auto-Submitted"] == "auto-replied"
    body = reply.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content().strip()
    # Answered in the customer's language: Vietnamese letters carry diacritics.
    assert any(ch.isalpha() and not ch.isascii() for ch in text) == vietnamese, text

    inbound, outbound = sorted(await _messages(app), key=lambda m: m["direction"])
    assert inbound["direction"] == "in" and inbound["author_type"] == "customer"
    assert outbound["status"] == "sent" and outbound["text"] == text
    customer = (await app.get(f"/api/v1/customers/{inbound['customer_id']}")).json()
    assert customer["emails"] == [sender]  # an e-mail From is a verified address
    assert customer["identities"][0]["external_id"] == sender


async def test_a_reply_to_our_mail_stays_in_the_same_conversation(
    app: Harness, smtp: SmtpSink
) -> None:
    first_id = "CAF7u1Qp2vXk3r@mail.gmail.com"
    await _post(app, mails.vietnamese_qp(message_id=first_id))
    [ours] = await smtp.wait_for(1)
    our_id = _ids(ours["Message-ID"])[0]

    # Only our id links it to the thread (some clients send In-Reply-To alone).
    answer = mails.gmail_reply(
        message_id="CAF7u1Qp9reply@mail.gmail.com", in_reply_to=our_id, references=()
    )
    assert (await _post(app, answer)).status_code == 200
    second = (await smtp.wait_for(2))[1]
    await app.settle()

    conversations = (await app.get("/api/v1/conversations", channel="email")).json()["items"]
    assert len(conversations) == 1
    assert second["In-Reply-To"] == "<CAF7u1Qp9reply@mail.gmail.com>"
    assert _ids(second["References"]) == [our_id, "CAF7u1Qp9reply@mail.gmail.com"]
    assert second["Subject"] == "Re: Hỏi về đơn hàng #1025"
    texts = [m["text"] for m in await _messages(app, direction="in")]
    assert mails.GMAIL_REPLY_TEXT in texts  # quoted history stripped

    # A fresh mail without references is a new topic: a second conversation.
    await _post(app, mails.vietnamese_qp(message_id="brand-new@mail.gmail.com"))
    await smtp.wait_for(3)
    await app.settle()
    conversations = (await app.get("/api/v1/conversations", channel="email")).json()["items"]
    assert len(conversations) == 2


async def test_the_same_message_id_twice_is_one_message_and_one_reply(
    app: Harness, smtp: SmtpSink
) -> None:
    raw = mails.vietnamese_qp()
    responses = await asyncio.gather(*(_post(app, raw) for _ in range(5)))
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["stored"] for r in responses) == 1
    await smtp.wait_for(1)
    await app.settle()
    await asyncio.sleep(0.3)
    assert len(smtp.mails()) == 1
    assert await app.count(Message, direction="in") == 1
    assert await app.count(InboxEvent) == 1


async def test_missing_or_wrong_signature_stores_nothing(app: Harness, smtp: SmtpSink) -> None:
    raw = mails.vietnamese_qp()
    missing = await _post(app, raw, signature=None)
    wrong = await _post(app, raw, signature=_sign(raw, "another-secret"))
    garbled = await _post(app, raw, signature="md5=abc")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_signature"
    assert (wrong.status_code, garbled.status_code) == (403, 403)
    assert await app.count(InboxEvent) == 0
    assert await app.count(Message) == 0
    assert smtp.mails() == []


async def test_without_a_webhook_secret_mail_is_refused(database_url: str, smtp: SmtpSink) -> None:
    settings = make_settings(
        database_url, None, smtp_host="127.0.0.1", smtp_port=smtp.port, email_from=SUPPORT
    )
    async with running_app(settings) as harness:
        response = await _post(harness, mails.vietnamese_qp(), signature=_sign(b"x"))
        assert response.status_code == 403
        assert "OMNICRM_EMAIL_WEBHOOK_SECRET" in response.json()["error"]["message"]
        assert await harness.count(InboxEvent) == 0


@pytest.mark.parametrize(
    "raw",
    [b"\x00\x01\x02\xff" * 64, b"Subject: no sender\r\n\r\nhello\r\n", b"not a mail at all"],
    ids=["binary", "no-from", "text"],
)
async def test_malformed_mail_is_a_400_and_stores_nothing(app: Harness, raw: bytes) -> None:
    response = await _post(app, raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_message"
    assert await app.count(InboxEvent) == 0


async def test_machine_mail_is_stored_but_never_answered(app: Harness, smtp: SmtpSink) -> None:
    for raw in (mails.auto_reply(), mails.list_mail(), mails.bounce()):
        response = await _post(app, raw)
        assert response.status_code == 200 and response.json()["stored"] == 1
    await app.settle()
    await asyncio.sleep(0.5)
    assert smtp.mails() == []
    stored = await _messages(app, direction="in")
    assert len(stored) == 3
    assert await app.count(Message, direction="out") == 0


async def test_a_bounce_of_our_reply_marks_it_failed(app: Harness, smtp: SmtpSink) -> None:
    await _post(app, mails.vietnamese_qp())
    [ours] = await smtp.wait_for(1)
    await app.settle()
    our_id = _ids(ours["Message-ID"])[0]

    response = await _post(app, mails.bounce(original_id=our_id, recipient=mails.LAN))
    assert response.status_code == 200
    assert response.json()["stored"] == 1
    await app.settle()
    await asyncio.sleep(0.3)
    [out] = await _messages(app, direction="out")
    assert out["status"] == "failed"
    assert out["error"] == "bounced: 550 5.1.1 User unknown"
    assert len(smtp.mails()) == 1  # the bounce itself is not answered


async def test_our_own_mail_coming_back_is_ignored(app: Harness, smtp: SmtpSink) -> None:
    response = await _post(app, mails.from_ourselves())
    assert response.status_code == 200
    assert response.json()["ignored"] == "mail from our own address"
    assert await app.count(InboxEvent) == 0


async def test_a_refused_recipient_fails_the_message_without_retry(
    app: Harness, smtp: SmtpSink
) -> None:
    smtp.refuse[mails.LAN] = "550 5.1.1 mailbox unavailable"
    await _post(app, mails.vietnamese_qp())
    await app.settle()
    await asyncio.sleep(0.5)
    [out] = await _messages(app, direction="out")
    assert out["status"] == "failed"
    assert "550" in (out["error"] or "")
    async with app.runtime.db.reading() as session:
        row = await session.get(Message, out["id"])
        assert row is not None and row.attempts == 1
    assert smtp.mails() == []


async def test_a_deferred_recipient_is_retried(app: Harness, smtp: SmtpSink) -> None:
    smtp.defer_next = 1
    await _post(app, mails.vietnamese_qp())
    await smtp.wait_for(1, within=15)
    await app.settle(within=15)
    [out] = await _messages(app, direction="out")
    assert out["status"] == "sent"
    async with app.runtime.db.reading() as session:
        row = await session.get(Message, out["id"])
        assert row is not None and row.attempts == 2


async def test_imap_polling_feeds_the_same_pipeline(app: Harness, smtp: SmtpSink) -> None:
    fake = await FakeImap().start()
    try:
        fake.add(mails.vietnamese_qp())
        fake.add(mails.list_mail())
        runtime = app.runtime
        poller = ImapPoller(
            host="127.0.0.1",
            port=fake.port,
            username=fake.username,
            password=fake.password,
            ssl=False,
            folder="INBOX",
            state=ChannelStateStore(runtime.db, "email"),
        )

        async def receive(events: list[InboundEvent]) -> object:
            return await inbox.receive(runtime.db, runtime.bus, events)

        assert await poll_into(poller, runtime.adapters["email"], receive) == 2
        [reply] = await smtp.wait_for(1)
        assert reply["In-Reply-To"] == "<CAF7u1Qp2vXk3r@mail.gmail.com>"
        assert await poll_into(poller, runtime.adapters["email"], receive) == 0
        await app.settle()
        await asyncio.sleep(0.3)
        assert len(smtp.mails()) == 1
        assert await app.count(Message, direction="in") == 2
    finally:
        await fake.stop()


async def test_serve_polls_the_mailbox_by_itself(database_url: str, smtp: SmtpSink) -> None:
    """With IMAP configured, the app's own background poller feeds the pipeline."""
    fake = await FakeImap().start()
    try:
        fake.add(mails.vietnamese_qp())
        settings = make_settings(
            database_url,
            None,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
            email_from=SUPPORT,
            imap_host="127.0.0.1",
            imap_port=fake.port,
            imap_ssl=False,
            imap_username=fake.username,
            imap_password=fake.password,
            imap_poll_seconds=0.1,
        )
        async with running_app(settings) as harness:
            [reply] = await smtp.wait_for(1)
            assert reply["In-Reply-To"] == "<CAF7u1Qp2vXk3r@mail.gmail.com>"
            await harness.settle()
            assert await harness.count(Message, direction="in") == 1
    finally:
        await fake.stop()
