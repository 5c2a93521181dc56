"""Files to customers, per channel, against local fakes: the bytes, name and type arrive."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from channels.base import DeliveryError, OutboundFile, OutboundMessage, ReplyContext
from channels.email import EmailAdapter
from channels.outbound_files import safe_mime, safe_name
from channels.sms import SmsAdapter
from channels.telegram import TelegramAdapter
from channels.zalo import ZaloAdapter
from tests.channels.test_zalo import InMemoryState
from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.fakes import twilio as ft
from tests.fakes import zalo as fz
from tests.fakes.telegram import FakeTelegram, Upload
from tests.fakes.twilio import FakeTwilio
from tests.fakes.zalo import FakeZalo

CHAT = "4200000001"
PNG = OutboundFile("ảnh da.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x01" * 300, "https://x/1")
PDF = OutboundFile("Báo giá tháng 11.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n", "https://x/2")
ZIP = OutboundFile("ho-so.zip", "application/zip", b"PK\x03\x04" + b"\0" * 40, "https://x/3")


def _message(
    channel: str, to: str, text: str, *files: OutboundFile, **extra: Any
) -> OutboundMessage:
    return OutboundMessage(
        message_id="m-files-1",
        channel=channel,
        external_user_id=to,
        text=text,
        files=files,
        **extra,
    )


@pytest.mark.parametrize(
    ("name", "mime", "clean_name", "clean_mime"),
    [
        ("Báo giá.pdf", "application/pdf", "Báo giá.pdf", "application/pdf"),
        ('a"b\r\nX-Evil: 1.png', "IMAGE/PNG; q=1", "a'b  X-Evil: 1.png", "image/png"),
        ("\x00", "text/html\r\nX-Evil: 1", "file", "application/octet-stream"),
        ("x.bin", "multipart", "x.bin", "application/octet-stream"),
    ],
)
def test_names_and_types_are_safe_for_headers(
    name: str, mime: str, clean_name: str, clean_mime: str
) -> None:
    assert (safe_name(name), safe_mime(mime)) == (clean_name, clean_mime)


# --- Telegram: multipart uploads through aiogram ---------------------------------------------


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(
        token=TELEGRAM_TOKEN, webhook_secret=TELEGRAM_SECRET, api_base=fake_telegram.url
    )
    yield adapter
    await adapter.close()


async def test_telegram_uploads_photo_with_caption_then_document(
    telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    receipt = await telegram.send(_message("telegram", CHAT, "Báo giá của bạn đây ạ", PNG, PDF))
    assert [method for method, _ in fake_telegram.calls] == ["sendPhoto", "sendDocument"]
    (_, photo), (_, document) = fake_telegram.uploads()
    assert isinstance(photo["photo"], Upload)
    assert (photo["photo"].filename, photo["photo"].data) == (PNG.name, PNG.data)
    assert photo["caption"] == "Báo giá của bạn đây ạ"
    assert document["document"].filename == PDF.name and document["document"].data == PDF.data
    assert "caption" not in document
    assert receipt.external_id is not None and len(receipt.meta["parts"]) == 2


async def test_telegram_long_text_goes_first_then_files_without_caption(
    telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    text = "Chi tiết liệu trình. " * 60  # > 1024 characters: too long for a caption
    await telegram.send(_message("telegram", CHAT, text, PNG))
    assert [method for method, _ in fake_telegram.calls] == ["sendMessage", "sendPhoto"]
    assert fake_telegram.sent()[0]["text"] == text
    assert "caption" not in fake_telegram.uploads()[0][1]


async def test_telegram_file_only_message_has_no_text_call(
    telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    await telegram.send(_message("telegram", CHAT, "", ZIP))
    assert [method for method, _ in fake_telegram.calls] == ["sendDocument"]
    assert fake_telegram.uploads()[0][1]["document"].data == ZIP.data


async def test_telegram_retry_resumes_after_what_already_went_out(
    telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    too_many = {"ok": False, "error_code": 429, "description": "Too Many Requests",
                "parameters": {"retry_after": 2}}  # fmt: skip
    fake_telegram.fail_next(429, too_many, method="sendPhoto")
    message = _message("telegram", CHAT, "x" * 2000, PNG)
    with pytest.raises(DeliveryError) as caught:
        await telegram.send(message)
    assert caught.value.retryable and caught.value.retry_after == 2.0
    await telegram.send(message)  # the dispatcher's retry
    methods = [method for method, _ in fake_telegram.calls]
    assert methods == ["sendMessage", "sendPhoto:failed", "sendPhoto"]


async def test_telegram_photo_refused_goes_as_document(
    telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    invalid = {"ok": False, "error_code": 400, "description": "PHOTO_INVALID_DIMENSIONS"}
    fake_telegram.fail_next(400, invalid, method="sendPhoto")
    await telegram.send(_message("telegram", CHAT, "", PNG))
    assert [method for method, _ in fake_telegram.calls] == ["sendPhoto:failed", "sendDocument"]
    assert fake_telegram.uploads()[0][1]["document"].data == PNG.data


async def test_telegram_file_over_the_upload_limit_becomes_its_link(
    telegram: TelegramAdapter, fake_telegram: FakeTelegram
) -> None:
    huge = OutboundFile("video.mp4", "video/mp4", b"\0" * (50 * 1024 * 1024 + 1), "https://x/9")
    await telegram.send(_message("telegram", CHAT, "Video buổi tư vấn", huge))
    assert fake_telegram.sent()[0]["text"] == "Video buổi tư vấn\n\nvideo.mp4: https://x/9"
    assert fake_telegram.uploads() == []


# --- E-mail: MIME attachments, received by a real SMTP server ---------------------------------


class _Sink:
    """aiosmtpd handler that keeps each mail's raw bytes."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.raw.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Sink, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


async def test_email_carries_files_as_mime_attachments(smtp: tuple[_Sink, int]) -> None:
    sink, port = smtp
    adapter = EmailAdapter(
        webhook_secret=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username=None,
        smtp_password=None,
        smtp_starttls=False,
        email_from="Omni Spa <support@omnispa.example>",
    )
    await adapter.send(_message("email", "lan@example.vn", "Gửi chị báo giá ạ.", PDF, PNG))
    async with asyncio.timeout(5):
        while not sink.raw:  # noqa: ASYNC110 - the SMTP server runs in its own thread
            await asyncio.sleep(0.02)
    mail = message_from_bytes(sink.raw[0], policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail.get_content_type() == "multipart/mixed"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Gửi chị báo giá ạ."
    files = [
        (p.get_filename(), p.get_content_type(), p.get_content()) for p in mail.iter_attachments()
    ]
    assert files == [(PDF.name, "application/pdf", PDF.data), (PNG.name, "image/png", PNG.data)]


# --- SMS: MMS media URLs on US/CA numbers, links in the text elsewhere ------------------------


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[SmsAdapter, FakeTwilio]]:
    fake = await FakeTwilio().start()
    adapter = SmsAdapter(
        account_sid=ft.ACCOUNT_SID,
        auth_token=ft.AUTH_TOKEN,
        from_number=ft.FROM_NUMBER,
        api_base=fake.url,
        status_callback_url=ft.STATUS_URL,
    )
    yield adapter, fake
    await adapter.close()
    await fake.stop()


async def test_sms_to_a_us_number_sends_mms_media_urls(
    twilio: tuple[SmsAdapter, FakeTwilio],
) -> None:
    adapter, fake = twilio
    receipt = await adapter.send(_message("sms", "+14155550100", "Your quote", PNG, PDF))
    (call,) = fake.sent_calls()
    assert call.media == (PNG.url, PDF.url)
    assert call.form["Body"] == "Your quote"
    assert receipt.external_id == call.sid and receipt.meta["media"] == 2


async def test_sms_media_only_has_no_body(twilio: tuple[SmsAdapter, FakeTwilio]) -> None:
    adapter, fake = twilio
    await adapter.send(_message("sms", "+14155550100", "", PNG))
    (call,) = fake.sent_calls()
    assert call.media == (PNG.url,) and "Body" not in call.form


async def test_sms_more_than_ten_media_take_two_messages(
    twilio: tuple[SmsAdapter, FakeTwilio],
) -> None:
    adapter, fake = twilio
    files = [OutboundFile(f"p{i}.png", "image/png", b"x", f"https://x/p{i}") for i in range(11)]
    await adapter.send(_message("sms", "+14155550100", "Photos", *files))
    first, second = fake.sent_calls()
    assert first.media == tuple(f"https://x/p{i}" for i in range(10))
    assert second.media == ("https://x/p10",) and "Body" not in second.form


async def test_sms_outside_mms_countries_sends_the_links_in_the_text(
    twilio: tuple[SmsAdapter, FakeTwilio],
) -> None:
    adapter, fake = twilio
    await adapter.send(_message("sms", "+84903123456", "Báo giá", PDF))
    (call,) = fake.sent_calls()
    assert call.media == ()
    assert call.form["Body"] == f"Báo giá\n\n{PDF.name}: {PDF.url}"


async def test_sms_without_file_links_fails_before_any_call(
    twilio: tuple[SmsAdapter, FakeTwilio],
) -> None:
    adapter, fake = twilio
    unlinked = OutboundFile("a.png", "image/png", b"x")
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_message("sms", "+14155550100", "hi", unlinked))
    assert not caught.value.retryable and caught.value.code == "file_links_off"
    assert fake.calls == []


# --- Zalo OA: upload, then send the attachment ------------------------------------------------

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def zalo() -> AsyncIterator[tuple[ZaloAdapter, FakeZalo]]:
    fake = await FakeZalo().start()
    adapter = ZaloAdapter(
        app_id=fz.APP_ID,
        app_secret=fz.APP_SECRET,
        oa_secret_key=fz.OA_SECRET_KEY,
        access_token=fake.access_token,
        refresh_token=fake.refresh_token,
        api_base=fake.url,
        oauth_base=fake.url,
        state=InMemoryState(),
        clock=lambda: NOW,
    )
    yield adapter, fake
    await adapter.close()
    await fake.stop()


def _zalo(text: str, *files: OutboundFile, sent: int = 0) -> OutboundMessage:
    context = ReplyContext(
        last_inbound_at=NOW - timedelta(minutes=3), sent_since_last_inbound=sent
    )
    return _message("zalo", fz.USER_ID, text, *files, context=context)


async def test_zalo_uploads_image_and_pdf_then_sends_them(
    zalo: tuple[ZaloAdapter, FakeZalo],
) -> None:
    adapter, fake = zalo
    receipt = await adapter.send(_zalo("Báo giá ạ", PNG, PDF))
    image, document = fake.uploads
    assert (image.kind, image.filename, image.content_type, image.data) == (
        "image",
        PNG.name,
        "image/png",
        PNG.data,
    )
    assert (document.kind, document.filename, document.data) == ("file", PDF.name, PDF.data)
    text, photo, file = fake.sent()
    assert text["message"] == {"text": "Báo giá ạ"}
    elements = photo["message"]["attachment"]["payload"]["elements"]
    assert elements == [{"media_type": "image", "attachment_id": image.handle}]
    assert file["message"]["attachment"] == {"type": "file", "payload": {"token": document.handle}}
    assert len(receipt.meta["zalo_message_ids"]) == 3


async def test_zalo_sends_unsupported_files_as_links(zalo: tuple[ZaloAdapter, FakeZalo]) -> None:
    adapter, fake = zalo
    big = OutboundFile("big.jpg", "image/jpeg", b"\xff" * (1024 * 1024 + 1), "https://x/big")
    await adapter.send(_zalo("", ZIP, big))
    assert fake.uploads == []
    (only,) = fake.sent()
    assert only["message"]["text"] == f"{ZIP.name}: {ZIP.url}\nbig.jpg: https://x/big"


async def test_zalo_files_count_against_the_reply_window(
    zalo: tuple[ZaloAdapter, FakeZalo],
) -> None:
    adapter, fake = zalo
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(_zalo("hi", PNG, PDF, sent=6))  # 6 + 3 > 8 free replies
    assert not caught.value.retryable
    assert fake.calls == []


async def test_zalo_upload_refreshes_an_expired_token(zalo: tuple[ZaloAdapter, FakeZalo]) -> None:
    adapter, fake = zalo
    fake.expire_access_token()
    await adapter.send(_zalo("", PDF))
    outcomes = [(call.path.rsplit("/", 1)[-1], call.outcome) for call in fake.calls]
    assert outcomes == [
        ("file", "refused"),
        ("access_token", "refreshed"),
        ("file", "uploaded"),
        ("cs", "sent"),
    ]
