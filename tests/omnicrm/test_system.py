"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram


async def test_healthz_reports_database_bus_and_channels(harness: Harness) -> None:
    response = await harness.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["bus"]["kind"] == "in-process"
    assert body["channels"] == {
        "telegram": "on",
        "zalo": "off",
        "sms": "off",
        "email": "off",
        "slack": "off",
        "webchat": "on",
    }


async def test_channel_without_credentials_is_off_and_its_webhook_404s(database_url: str) -> None:
    async with running_app(make_settings(database_url)) as app:
        health = (await app.client.get("/healthz")).json()
        assert health["channels"]["telegram"] == "off"
        response = await app.telegram(updates.text_update(1, "hi"))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "channel_off"


async def test_metrics_count_webhooks_in_prometheus_format(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(440001, "hi"))
    await harness.telegram(updates.text_update(440001, "hi"))
    await harness.telegram(updates.text_update(440002, "hi"), secret="wrong")
    await harness.settle()
    text = (await harness.client.get("/metrics")).text
    assert 'omnicrm_inbound_events_total{channel="telegram",result="stored"} 1.0' in text
    assert 'omnicrm_inbound_events_total{channel="telegram",result="duplicate"} 1.0' in text
    assert 'omnicrm_inbound_events_total{channel="telegram",result="rejected"} 1.0' in text
    assert 'omnicrm_outbound_messages_total{channel="telegram",status="sent"} 1.0' in text


async def test_openapi_lists_the_contract_paths(harness: Harness) -> None:
    schema = (await harness.client.get("/openapi.json")).json()
    for path in (
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}",
        "/api/v1/customers/{customer_id}/timeline",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/messages",
        "/api/v1/nlu/parse",
        "/api/v1/webchat/sessions",
        "/api/v1/webchat/messages",
        "/webhooks/telegram",
    ):
        assert path in schema["paths"], path
    docs = await harness.client.get("/docs")
    assert docs.status_code == 200


async def test_bad_cursor_and_bad_filters_are_clear_errors(harness: Harness) -> None:
    bad_cursor = await harness.get("/api/v1/messages", cursor="!!!not-a-cursor")
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["error"]["code"] == "invalid_cursor"
    bad_status = await harness.get("/api/v1/conversations", status="sleeping")
    assert bad_status.status_code == 422
    bad_identity = await harness.get("/api/v1/customers", identity="fax:1")
    assert bad_identity.status_code == 422
    missing = await harness.get("/api/v1/customers/does-not-exist")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no such customer"}}
