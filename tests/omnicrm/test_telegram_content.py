"""Telegram content kinds: photo with caption, document, shared contact (own vs someone else's)."""

from __future__ import annotations

from tests.conftest import Harness
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def _messages(harness: Harness) -> list[dict[str, object]]:
    return (await harness.get("/api/v1/messages", direction="in")).json()["items"]


async def test_photo_caption_is_the_text_and_the_largest_size_is_kept(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.photo_update(550001, "ảnh da mặt của em"))
    await harness.settle()
    [message] = await _messages(harness)
    assert message["text"] == "ảnh da mặt của em"
    assert message["attachments"][0]["kind"] == "image"
    assert message["attachments"][0]["ref"] == "large-550001"


async def test_document_is_stored_as_an_attachment(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.document_update(550002))
    await harness.settle()
    [message] = await _messages(harness)
    assert message["attachments"][0]["name"] == "hoa-don.pdf"
    assert message["attachments"][0]["mime_type"] == "application/pdf"


async def test_own_shared_contact_becomes_a_verified_phone(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.contact_update(550003, "+84 912 345 000"))
    await harness.settle()
    [customer] = (await harness.get("/api/v1/customers", phone="0912345000")).json()["items"]
    view = (await harness.get(f"/api/v1/customers/{customer['id']}")).json()
    assert view["contact_points"][0] == {
        "kind": "phone",
        "value": "+84912345000",
        "verified": True,
        "source": "telegram",
    }


async def test_someone_elses_contact_is_not_verified(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.contact_update(550004, "0912345001", owner_id=999))
    await harness.settle()
    [customer] = (await harness.get("/api/v1/customers", phone="0912345001")).json()["items"]
    view = (await harness.get(f"/api/v1/customers/{customer['id']}")).json()
    assert view["contact_points"][0]["verified"] is False


async def test_verified_phone_on_a_second_telegram_account_joins_the_known_customer(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.contact_update(550005, "0912345002", user_id=4200000301))
    await harness.telegram(updates.contact_update(550006, "0912345002", user_id=4200000302))
    await harness.settle()
    everyone = (await harness.get("/api/v1/customers")).json()["items"]
    assert len(everyone) == 1
    assert sorted(i["external_id"] for i in everyone[0]["identities"]) == [
        "4200000301",
        "4200000302",
    ]


async def test_attachment_is_downloaded_from_telegram_and_served_inert(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.photo_update(550010, "da mặt"))
    await harness.settle()
    [message] = await _messages(harness)
    response = await harness.get(f"/api/v1/messages/{message['id']}/attachments/0")
    assert response.status_code == 200
    assert response.content == b"file:photos/large-550010.jpg"
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "application/octet-stream"
    missing = await harness.get(f"/api/v1/messages/{message['id']}/attachments/5")
    assert missing.status_code == 404
