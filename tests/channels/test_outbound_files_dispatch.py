"""The dispatcher loads a queued reply's stored files and hands them to the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.base import ChannelAdapter
from channels.file_links import FileLinks, LinkCheck
from channels.sms import SmsAdapter
from channels.telegram import TelegramAdapter
from conversations.dispatcher import Dispatcher
from conversations.metrics import EngineMetrics
from crm_core import customers
from crm_core.conversations import add_outbound, open_or_continue
from crm_core.db import Database
from crm_core.files import attachment_of, store_file
from crm_core.models import Message
from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.fakes import twilio as ft
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

LINKS = FileLinks.for_deployment(secret_key="test-secret", public_url="https://crm.example.com")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _queue(
    db: Database, channel: str, external_id: str, *, text: str, attachments: list[dict[str, Any]]
) -> str:
    async with db.transaction() as session:
        resolved = await customers.resolve_identity(
            session, channel=channel, external_id=external_id
        )
        conversation, _ = await open_or_continue(
            session, customer_id=resolved.customer.id, identity=resolved.identity
        )
        message = add_outbound(
            session,
            conversation,
            text=text,
            author_type="agent",
            author_name="Mai",
            attachments=attachments,
        )
        return message.id


async def _stored(db: Database, name: str, mime_type: str, data: bytes) -> dict[str, Any]:
    async with db.transaction() as session:
        stored = store_file(session, name=name, mime_type=mime_type, data=data, max_bytes=10**6)
        return attachment_of(stored)


def _dispatcher(db: Database, adapters: dict[str, ChannelAdapter]) -> Dispatcher:
    return Dispatcher(
        db=db,
        adapters=adapters,
        metrics=EngineMetrics(),
        max_attempts=3,
        poll_seconds=1.0,
        file_links=LINKS,
    )


async def _row(db: Database, message_id: str) -> Message:
    async with db.reading() as session:
        return await session.get_one(Message, message_id)


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(
        token=TELEGRAM_TOKEN, webhook_secret=TELEGRAM_SECRET, api_base=fake_telegram.url
    )
    yield adapter
    await adapter.close()


async def test_stored_file_reaches_telegram_as_an_upload(
    db: Database, telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    pdf = await _stored(db, "Báo giá.pdf", "application/pdf", PDF)
    message_id = await _queue(db, "telegram", "4200000001", text="Gửi chị ạ", attachments=[pdf])
    assert await _dispatcher(db, {"telegram": telegram}).drain() == 1
    ((method, payload),) = fake_telegram.uploads()
    assert method == "sendDocument" and payload["caption"] == "Gửi chị ạ"
    assert (payload["document"].filename, payload["document"].data) == ("Báo giá.pdf", PDF)
    row = await _row(db, message_id)
    assert row.status == "sent" and row.attempts == 1


async def test_missing_file_fails_for_good_without_an_api_call(
    db: Database, telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    gone = {"kind": "document", "ref": "file:no-such-file", "name": "hợp đồng.pdf"}
    message_id = await _queue(db, "telegram", "4200000002", text="Hợp đồng", attachments=[gone])
    await _dispatcher(db, {"telegram": telegram}).drain()
    row = await _row(db, message_id)
    assert row.status == "failed" and row.next_attempt_at is None
    assert row.error == "attached file 'hợp đồng.pdf' (no-such-file) no longer exists"
    assert row.meta.get("error_code") == "file_missing"
    assert fake_telegram.calls == []


async def test_sms_media_url_is_a_signed_link_to_the_stored_file(db: Database) -> None:
    fake = await FakeTwilio().start()
    adapter = SmsAdapter(
        account_sid=ft.ACCOUNT_SID,
        auth_token=ft.AUTH_TOKEN,
        from_number=ft.FROM_NUMBER,
        api_base=fake.url,
        status_callback_url=ft.STATUS_URL,
    )
    try:
        image = await _stored(db, "da mặt.jpg", "image/jpeg", b"\xff\xd8\xff\xe0jpeg")
        file_id = image["ref"].removeprefix("file:")
        message_id = await _queue(db, "sms", "+14155550123", text="Before", attachments=[image])
        await _dispatcher(db, {"sms": adapter}).drain()
        (call,) = fake.sent_calls()
    finally:
        await adapter.close()
        await fake.stop()
    now = datetime.now(UTC)
    (url,) = call.media
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://crm.example.com/files/{file_id}"
    )
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert int(query["expires"]) > now.timestamp() + 6.9 * 86400  # about 7 days
    verdict = LINKS.check(file_id, expires=query["expires"], signature=query["signature"], now=now)
    assert verdict is LinkCheck.VALID
    assert (await _row(db, message_id)).status == "sent"
