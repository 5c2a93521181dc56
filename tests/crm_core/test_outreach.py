"""`send_proactive`: the key claim, channel choice and fallback, consent, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from channels import zalo
from crm_core import outreach
from crm_core.db import Database
from crm_core.models import AutomationRun, ContactPoint, Identity, Message
from crm_core.outreach import QuietHours, send_proactive
from tests.crm_core.test_automation import ALL_ON, NOW, TZ, db, outbound, seed_customer

__all__ = ["db"]  # the fixture, re-used from the automation tests

TEXTS = {"vi": "Xin chào", "en": "Hello"}


async def _send(db: Database, customer_id: str, key: str = "test:1", **kwargs: object) -> str:
    values: dict[str, object] = {"channels": ALL_ON, "now": NOW, **kwargs}
    async with db.transaction() as session:
        outcome = await send_proactive(
            session,
            customer_id=customer_id,
            text_by_language=TEXTS,
            kind="test",
            key=key,
            **values,  # type: ignore[arg-type]
        )
    return f"{outcome.status}:{outcome.channel}" if outcome.channel else outcome.status


def test_our_zalo_window_is_the_adapters() -> None:
    assert outreach.ZALO_REPLY_WINDOW == zalo.REPLY_WINDOW
    assert outreach.ZALO_REPLIES_PER_WINDOW == zalo.REPLIES_PER_WINDOW


@pytest.mark.parametrize(
    ("spec", "local", "quiet"),
    [
        ("21:00-08:00", "22:30", True),
        ("21:00-08:00", "07:59", True),
        ("21:00-08:00", "08:00", False),
        ("21:00-08:00", "20:59", False),
        ("12:00-13:30", "12:45", True),
        ("12:00-13:30", "13:30", False),
        ("", "03:00", False),
        ("off", "03:00", False),
    ],
)
def test_quiet_hours_in_the_business_zone(spec: str, local: str, quiet: bool) -> None:
    hours, minutes = (int(part) for part in local.split(":"))
    at = datetime(2026, 11, 20, hours, minutes, tzinfo=QuietHours.parse("", timezone=TZ).zone)
    assert QuietHours.parse(spec, timezone=TZ).active(at.astimezone(UTC)) is quiet


def test_unreadable_quiet_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="21:00-08:00"):
        QuietHours.parse("late", timezone=TZ)


async def test_a_taken_key_sends_nothing(db: Database) -> None:
    who = await seed_customer(db)
    assert await _send(db, who.customer_id) == "queued:telegram"
    assert await _send(db, who.customer_id) == "already"
    assert len(await outbound(db)) == 1


async def test_the_language_follows_the_customer(db: Database) -> None:
    who = await seed_customer(db, language="en")
    await _send(db, who.customer_id)
    [message] = await outbound(db)
    assert message.text == "Hello" and message.meta["automation_key"] == "test:1"


async def test_quiet_hours_defer_without_claiming(db: Database) -> None:
    who = await seed_customer(db)
    night = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 22:00 local
    quiet = QuietHours.parse("21:00-08:00", timezone=TZ)
    assert await _send(db, who.customer_id, now=night, quiet_hours=quiet) == "deferred"
    async with db.reading() as session:
        assert await session.get(AutomationRun, "test:1") is None
    assert await _send(db, who.customer_id, now=NOW, quiet_hours=quiet) == "queued:telegram"


async def test_the_last_used_channel_comes_first(db: Database) -> None:
    who = await seed_customer(db, phone="+84912345678")
    assert await _send(db, who.customer_id) == "queued:telegram"
    assert await _send(db, who.customer_id, key="k2", prefer_channel="sms") == "queued:sms"


async def test_an_inactive_web_chat_visitor_is_reached_by_email(db: Database) -> None:
    who = await seed_customer(
        db, channel="webchat", external_id="session-1", email="minh@example.vn"
    )
    assert await _send(db, who.customer_id) == "queued:email"
    active = await seed_customer(
        db, channel="webchat", external_id="session-2", last_inbound_at=NOW - timedelta(minutes=5)
    )
    assert await _send(db, active.customer_id, key="k2") == "queued:webchat"


async def test_zalo_inside_the_window_and_past_its_quota(db: Database) -> None:
    who = await seed_customer(
        db, channel="zalo", external_id="zalo-1", email="lan@example.vn", phone="+84912345678"
    )
    assert await _send(db, who.customer_id, fallback=()) == "queued:zalo"
    async with db.transaction() as session:
        for message in (await session.execute(select(Message))).scalars():
            message.status = "sent"
        session.add_all(
            Message(
                conversation_id=who.conversation_id,
                customer_id=who.customer_id,
                channel="zalo",
                direction="out",
                author_type="bot",
                text=f"reply {n}",
                attachments=[],
                status="sent",
                created_at=NOW - timedelta(minutes=30),
            )
            for n in range(7)
        )
    assert await _send(db, who.customer_id, key="k2", fallback=()) == "skipped"
    assert await _send(db, who.customer_id, key="k3", fallback=("email",)) == "queued:email"


async def test_channels_that_are_off_are_not_used(db: Database) -> None:
    who = await seed_customer(db, phone="+84912345678")
    assert await _send(db, who.customer_id, channels={"sms"}) == "queued:sms"
    assert await _send(db, who.customer_id, key="k2", channels=set()) == "skipped"


async def test_an_opted_out_sms_handle_is_never_used(db: Database) -> None:
    who = await seed_customer(db, opted_out=True, phone="+84912345678")
    async with db.transaction() as session:
        session.add(
            Identity(
                customer_id=who.customer_id,
                channel="sms",
                external_id="+84912345678",
                opted_out_at=NOW,
            )
        )
    assert await _send(db, who.customer_id) == "skipped"
    assert await outbound(db) == []


async def test_another_customers_phone_handle_is_not_borrowed(db: Database) -> None:
    owner = await seed_customer(db, channel="sms", external_id="+84912345678")
    other = await seed_customer(db, external_id="4200000009", opted_out=True)
    async with db.transaction() as session:
        session.add(
            ContactPoint(customer_id=other.customer_id, kind="phone", value="+84912345678")
        )
    assert await _send(db, other.customer_id) == "skipped"
    assert await _send(db, owner.customer_id, key="k2") == "queued:sms"
