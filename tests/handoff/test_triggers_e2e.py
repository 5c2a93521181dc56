"""Triggers through the whole platform: a VIP, an angry customer, and a request after hours."""

from __future__ import annotations

from sqlalchemy import update

from crm_core.models import Customer
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _status(harness: Harness) -> tuple[str, str]:
    [conversation] = (await harness.get("/api/v1/conversations")).json()["items"]
    timeline = await harness.get(f"/api/v1/customers/{conversation['customer_id']}/timeline")
    reasons = [
        e["data"].get("reason") for e in timeline.json()["items"] if e["kind"] == "status_changed"
    ]
    return conversation["status"], (reasons[-1] if reasons else "")


async def test_a_vip_goes_to_a_person(harness: Harness, fake_telegram: FakeTelegram) -> None:
    await harness.telegram(updates.text_update(710001, "xin chào"))
    await harness.settle()
    async with harness.runtime.db.transaction() as session:
        await session.execute(update(Customer).values(tags=["vip"]))
    await harness.telegram(updates.text_update(710002, "giờ mở cửa"))
    sent = await fake_telegram.wait_for_sent(2)
    await harness.settle()
    assert await _status(harness) == ("waiting_agent", "vip")
    assert "nhân viên" in sent[-1]["text"]


async def test_an_angry_customer_goes_to_a_person(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(720001, "dịch vụ quá tệ, tôi rất thất vọng"))
    await fake_telegram.wait_for_sent(1)
    await harness.settle()
    status, reason = await _status(harness)
    assert status == "waiting_agent" and reason in ("negative_sentiment", "complaint")


async def test_after_hours_the_customer_is_told_when_someone_answers(
    database_url: str, fake_telegram: FakeTelegram
) -> None:
    # Open one minute a week: closed whenever this test runs, barring that minute.
    settings = make_settings(database_url, fake_telegram.url, business_hours="mon 03:00-03:01")
    async with running_app(settings) as app:
        await app.telegram(updates.text_update(730001, "cho mình gặp nhân viên"))
        [reply] = await fake_telegram.wait_for_sent(1)
    assert "ngoài giờ làm việc" in reply["text"] and "03:00" in reply["text"]
