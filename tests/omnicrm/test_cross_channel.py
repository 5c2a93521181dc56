"""One person on SMS, Telegram and Zalo becomes one customer; unmerge undoes a join."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Harness, make_settings, running_app
from tests.fakes import twilio as ft
from tests.fakes import updates
from tests.fakes import zalo as fz
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.fakes.zalo import FakeZalo

PHONE = "+84912777888"


@pytest.fixture
async def everywhere(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    twilio = await FakeTwilio().start()
    zalo = await FakeZalo().start()
    settings = make_settings(
        database_url,
        fake_telegram.url,
        twilio_account_sid=ft.ACCOUNT_SID,
        twilio_auth_token=ft.AUTH_TOKEN,
        twilio_from_number=ft.FROM_NUMBER,
        twilio_api_base=twilio.url,
        twilio_max_sends_per_second=20.0,
        public_url=ft.PUBLIC_URL,
        zalo_app_id=fz.APP_ID,
        zalo_app_secret=fz.APP_SECRET,
        zalo_oa_secret_key=fz.OA_SECRET_KEY,
        zalo_access_token=zalo.access_token,
        zalo_refresh_token=zalo.refresh_token,
        zalo_api_base=zalo.url,
        zalo_oauth_base=zalo.url,
    )
    try:
        async with running_app(settings) as harness:
            yield harness
    finally:
        await twilio.stop()
        await zalo.stop()


async def _sms(harness: Harness, sid: str, text: str) -> None:
    body, headers = ft.signed(ft.inbound_form(sid, PHONE, text))
    response = await harness.client.post("/webhooks/twilio/sms", content=body, headers=headers)
    assert response.status_code == 200


async def _zalo(harness: Harness, payload: dict[str, Any]) -> None:
    body = fz.encode(payload)
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": fz.sign(body)}
    response = await harness.client.post("/webhooks/zalo", content=body, headers=headers)
    assert response.status_code == 200


async def test_three_channels_one_customer_and_unmerge(everywhere: Harness) -> None:
    app = everywhere
    await _sms(app, "SM" + "a" * 32, "chào shop")
    await app.settle()
    await app.telegram(updates.text_update(901, "xin chào", user_id=4200000901))
    await app.telegram(updates.contact_update(902, PHONE.lstrip("+"), user_id=4200000901))
    await _zalo(app, fz.text_event("zmsg-1", "cho hỏi giờ mở cửa"))
    await _zalo(app, fz.submit_info_event(phone=PHONE.lstrip("+"), name="Lan"))
    await app.settle()

    customers = (await app.get("/api/v1/customers")).json()["items"]
    assert len(customers) == 1
    [customer] = customers
    assert customer["phones"] == [PHONE]
    assert sorted(i["channel"] for i in customer["identities"]) == ["sms", "telegram", "zalo"]
    timeline = (await app.get(f"/api/v1/customers/{customer['id']}/timeline")).json()["items"]
    channels = {e["data"].get("channel") for e in timeline if e["kind"] == "message_received"}
    assert channels == {"sms", "telegram", "zalo"}

    merges = (await app.get(f"/api/v1/customers/{customer['id']}/merges")).json()["items"]
    assert len(merges) == 2  # Telegram joined the SMS customer, then Zalo did
    zalo_merge = merges[0]  # newest first: Zalo's join came last
    headers = {"Authorization": f"Bearer {await app.key()}"}
    undone = await app.client.post(f"/api/v1/merges/{zalo_merge['id']}/unmerge", headers=headers)
    assert undone.status_code == 200
    restored = undone.json()["restored_customer_id"]

    after = {c["id"]: c for c in (await app.get("/api/v1/customers")).json()["items"]}
    assert set(after) == {customer["id"], restored}
    assert [i["channel"] for i in after[restored]["identities"]] == ["zalo"]
    assert sorted(i["channel"] for i in after[customer["id"]]["identities"]) == ["sms", "telegram"]
    zalo_messages = (await app.get("/api/v1/messages", customer_id=restored)).json()["items"]
    assert {m["channel"] for m in zalo_messages} == {"zalo"}
    assert any(m["text"] == "cho hỏi giờ mở cửa" for m in zalo_messages)
