"""`omnicrm automation run-due [--now]` as cron runs it: it queues what is due and sends it
through the real adapters (fake Telegram, fake Twilio, a local SMTP server), once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from typer.testing import CliRunner, Result

from crm_core.db import Database
from crm_core.models import Message
from omnicrm.cli import app
from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.crm_core.test_automation import seed_appointment, seed_customer, seed_service
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from tests.omnicrm.test_email_e2e import SmtpSink, _free_port

runner = CliRunner()
SUPPORT = "support@omnispa.example"


async def run_due(*args: str) -> Result:
    """In a thread: the command calls asyncio.run, and the fakes must keep serving here."""
    result = await asyncio.to_thread(runner.invoke, app, ["automation", "run-due", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=_free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def db(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    smtp: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> AsyncIterator[Database]:
    """The environment a cron job would have: every channel on (Zalo with dummy keys)."""
    env = {
        "DATABASE_URL": database_url,
        "PUBLIC_URL": "http://testserver",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE": fake_telegram.url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE": fake_twilio.url,
        "TWILIO_MAX_SENDS_PER_SECOND": "50",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "EMAIL_FROM": SUPPORT,
        "ZALO_APP_ID": "app-1",
        "ZALO_APP_SECRET": "zalo-secret",
        "ZALO_OA_SECRET_KEY": "oa-secret",
        "ZALO_ACCESS_TOKEN": "zalo-token",
        "ZALO_API_BASE": "http://127.0.0.1:9",  # never called: the window is closed
        "QUIET_HOURS": "off",
    }
    for name, value in env.items():
        monkeypatch.setenv(f"OMNICRM_{name}", value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    database = Database(database_url)
    yield database
    await database.dispose()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


async def test_run_due_at_24h_before_sends_the_reminder_once(
    db: Database, fake_telegram: FakeTelegram
) -> None:
    now = datetime.now(UTC)
    who = await seed_customer(
        db, language="en", last_inbound_at=now - timedelta(hours=1), external_id="4200000001"
    )
    service = await seed_service(db)
    start = (now + timedelta(days=3)).replace(second=0, microsecond=0)
    await seed_appointment(db, who, service, starts_at=start, created_at=now)

    first = await run_due("--now", _iso(start - timedelta(hours=24)))
    assert "queued 1 messages" in first.output
    assert any(line.split()[:2] == ["reminder", "1"] for line in first.output.splitlines())
    [sent] = fake_telegram.sent()
    assert str(sent["chat_id"]) == "4200000001" and sent["text"].startswith("Reminder:")

    second = await run_due("--now", _iso(start - timedelta(hours=24) + timedelta(minutes=1)))
    assert "queued 0 messages" in second.output
    await asyncio.sleep(0.2)
    assert len(fake_telegram.sent()) == 1
    async with db.reading() as session:
        statuses = await session.execute(select(Message.status).where(Message.direction == "out"))
        assert list(statuses.scalars()) == ["sent"]


async def test_unreachable_chat_channels_fall_back_to_sms_and_email(
    db: Database, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio, smtp: SmtpSink
) -> None:
    now = datetime.now(UTC)
    service = await seed_service(db)
    start = (now + timedelta(hours=2, minutes=30)).replace(second=0, microsecond=0)
    zalo_window_closed = await seed_customer(
        db,
        channel="zalo",
        external_id="zalo-user-7",
        phone="+84912345678",
        last_inbound_at=now - timedelta(days=3),
    )
    telegram_opted_out = await seed_customer(
        db, external_id="4200000002", opted_out=True, email="lan@example.vn"
    )
    for who, channel in ((zalo_window_closed, "zalo"), (telegram_opted_out, "telegram")):
        await seed_appointment(
            db, who, service, starts_at=start, channel=channel, created_at=now - timedelta(days=2)
        )

    result = await run_due("--now", _iso(start - timedelta(hours=2)))
    [sms] = await fake_twilio.wait_for_sent(1)
    assert sms["To"] == "+84912345678" and sms["Body"].startswith("Nhắc lịch hẹn")
    await smtp.wait_for(2)  # the booking's confirmation with its invitation, and the reminder
    assert [m["To"] for m in _reminders(smtp)] == ["lan@example.vn"]
    assert fake_telegram.sent() == []
    assert "via sms" in result.output and "via email" in result.output

    await run_due("--now", _iso(start - timedelta(hours=2) + timedelta(minutes=5)))
    await asyncio.sleep(0.2)
    assert len(fake_twilio.sent()) == 1
    assert len(_reminders(smtp)) == 1 and len(smtp.mails()) == 2


def _reminders(smtp: SmtpSink) -> list[EmailMessage]:
    return [
        mail
        for mail in smtp.mails()
        if (body := mail.get_body(("plain",))) is not None
        and "Nhắc lịch hẹn" in body.get_content()  # type: ignore[attr-defined]
    ]


async def test_the_confirmation_email_carries_a_calendar_invitation(
    db: Database, smtp: SmtpSink
) -> None:
    now = datetime.now(UTC)
    who = await seed_customer(db, email="minh@example.vn", last_inbound_at=now)
    service = await seed_service(db)
    start = (now + timedelta(days=5)).replace(second=0, microsecond=0)
    await seed_appointment(db, who, service, starts_at=start, created_at=now)

    await run_due("--now", _iso(now))
    [mail] = await smtp.wait_for(1)
    assert mail["To"] == "minh@example.vn"
    [invite] = [part for part in mail.iter_attachments()]
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_filename() == "invitation.ics"
    assert b"BEGIN:VEVENT" in invite.get_content().encode()
    await run_due("--now", _iso(now + timedelta(minutes=1)))
    await asyncio.sleep(0.2)
    assert len(smtp.mails()) == 1


def test_a_bad_now_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["automation", "run-due", "--now", "tomorrow-ish"])
    assert result.exit_code == 2
    assert "ISO-8601" in result.output
