"""`/api/v1/purchases` and the receipt e-mail the running app's automation loop sends, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from crm_core.automation import AutomationRules, run_due
from crm_core.enums import Role
from crm_core.models import AutomationRun, Message
from crm_core.types import utcnow
from tests.conftest import Harness, make_settings, running_app
from tests.crm_core.test_automation import seed_customer
from tests.omnicrm.test_email_e2e import SmtpSink, _free_port

SUPPORT = "support@omnispa.example"


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
        email_from=f"Omni Spa <{SUPPORT}>",
        automation_tick_seconds=0.2,
        quiet_hours="off",
    )
    async with running_app(settings) as running:
        yield running


async def _post(app: Harness, body: dict[str, Any], role: Role = Role.SUPERVISOR) -> Any:
    headers = {"Authorization": f"Bearer {await app.key(role)}"}
    return await app.client.post("/api/v1/purchases", json=body, headers=headers)


def _body(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "description": "Chăm sóc da mặt cơ bản",
        "amount": 450_000,
        "currency": "vnd",
        "items": [{"name": "Basic facial", "quantity": 1, "amount": 450_000}],
        **extra,
    }


async def test_a_recorded_purchase_gets_one_receipt_email(app: Harness, smtp: SmtpSink) -> None:
    who = await seed_customer(
        app.runtime.db, email="lan@example.vn", language="en", last_inbound_at=utcnow()
    )
    created = await _post(app, _body(who.customer_id, external_id="POS-1001"))
    assert created.status_code == 201, created.text
    purchase = created.json()
    assert purchase["currency"] == "VND" and purchase["external_id"] == "POS-1001"

    [mail] = await smtp.wait_for(1)  # sent by the loop inside the app, not by the test
    assert mail["To"] == "lan@example.vn"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thank you for your purchase" in text and "450,000 VND" in text
    assert "POS-1001" in text

    again = await _post(app, _body(who.customer_id, external_id="POS-1001"))
    assert again.status_code == 200 and again.json()["id"] == purchase["id"]
    rules = AutomationRules.from_settings(app.runtime.settings, channels=app.runtime.adapters)
    report = await run_due(app.runtime.db, now=utcnow(), rules=rules)
    assert report.count("receipt", "queued") == 0
    await asyncio.sleep(0.5)  # a few more ticks of the loop
    assert len(smtp.mails()) == 1
    assert await app.count(AutomationRun, key=f"receipt:{purchase['id']}", outcome="queued") == 1
    assert await app.count(Message, channel="email", direction="out") == 1


async def test_without_an_email_the_receipt_is_skipped(app: Harness, smtp: SmtpSink) -> None:
    who = await seed_customer(app.runtime.db, last_inbound_at=utcnow())
    created = await _post(app, _body(who.customer_id))
    assert created.status_code == 201
    key = f"receipt:{created.json()['id']}"
    for _ in range(50):
        if await app.count(AutomationRun, key=key):
            break
        await asyncio.sleep(0.1)
    assert await app.count(AutomationRun, key=key, outcome="skipped") == 1
    assert smtp.mails() == []


async def test_purchase_rules_roles_and_listing(app: Harness) -> None:
    who = await seed_customer(app.runtime.db)
    other = await seed_customer(app.runtime.db, external_id="4200000002")
    assert (await _post(app, _body(who.customer_id), Role.AGENT)).status_code == 403
    missing = await _post(app, _body("nobody"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    naive = await _post(app, _body(who.customer_id, purchased_at="2026-11-20T09:30:00"))
    assert naive.status_code == 422
    assert (await _post(app, _body(who.customer_id, external_id="X-1"))).status_code == 201
    clash = await _post(app, _body(other.customer_id, external_id="X-1"))
    assert clash.status_code == 409
    await _post(app, _body(other.customer_id, description="Massage", amount=550_000))

    listed = await app.get("/api/v1/purchases", role=Role.AGENT, customer_id=who.customer_id)
    assert listed.status_code == 200
    page = listed.json()
    assert [p["external_id"] for p in page["items"]] == ["X-1"]
    assert page["next_cursor"] is None
    everything = (await app.get("/api/v1/purchases", role=Role.AGENT, limit=1)).json()
    assert len(everything["items"]) == 1 and everything["next_cursor"]
