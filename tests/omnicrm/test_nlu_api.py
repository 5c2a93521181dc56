"""`POST /api/v1/nlu/parse` with `now`, /healthz's NLU status, and Rasa end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from crm_core.enums import Role
from crm_core.models import Message
from tests.conftest import Harness, make_settings, running_app
from tests.fakes import updates
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import FakeTelegram


async def post_parse(
    harness: Harness, body: dict[str, object], role: Role = Role.SUPERVISOR
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {await harness.key(role)}"}
    return await harness.client.post("/api/v1/nlu/parse", json=body, headers=headers)


async def test_parse_resolves_dates_against_the_given_now(harness: Harness) -> None:
    body = {"text": "đặt lịch 9h sáng mai nhé", "now": "2026-11-20T10:00:00+07:00"}
    response = await post_parse(harness, body)
    assert response.status_code == 200
    parsed = response.json()
    assert set(parsed) == {"text", "intent", "entities", "intent_ranking", "language"}
    assert parsed["intent"]["name"] == "book_consultation"
    assert parsed["language"] == "vi"
    assert parsed["entities"] == [
        {
            "entity": "datetime",
            "value": "2026-11-21T09:00:00+07:00",
            "start": 9,
            "end": 20,
            "confidence": 1.0,
            "additional_info": {"grain": "hour"},
        }
    ]


async def test_now_is_taken_in_the_configured_timezone(harness: Harness) -> None:
    cases = [
        ("2026-11-20T10:00:00+07:00", "2026-11-21T00:00:00+07:00"),
        ("2026-11-20T20:00:00Z", "2026-11-22T00:00:00+07:00"),  # already the 21st in Hanoi
        ("2026-11-20T23:30:00", "2026-11-21T00:00:00+07:00"),  # no offset: local wall time
    ]
    for now, expected in cases:
        parsed = (await post_parse(harness, {"text": "mai", "now": now})).json()
        assert [e["value"] for e in parsed["entities"]] == [expected], now


async def test_a_bad_now_is_a_clear_422_and_parse_needs_a_supervisor(harness: Harness) -> None:
    for now in ["tomorrow", "2026-13-01T00:00:00", 1763600000, ""]:
        response = await post_parse(harness, {"text": "mai", "now": now})
        assert response.status_code == 422, now
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "now" in error["message"] and "ISO-8601" in error["message"]
    response = await post_parse(harness, {"text": "mai"}, role=Role.AGENT)
    assert response.status_code == 403


async def test_healthz_shows_the_builtin_backend(harness: Harness) -> None:
    health = (await harness.client.get("/healthz")).json()
    assert health["nlu"] == {"backend": "builtin", "status": "builtin"}


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa(intents={"zzz mystery words": ("request_human", 0.97)})
    await fake.start()
    yield fake
    await fake.stop()


async def test_rasa_backend_answers_the_api_and_healthz_shows_a_fallback(
    database_url: str, fake_rasa: FakeRasa
) -> None:
    settings = make_settings(database_url, nlu_backend="rasa", rasa_url=fake_rasa.url)
    async with running_app(settings) as app:
        parsed = (await post_parse(app, {"text": "zzz mystery words"})).json()
        assert parsed["intent"] == {"name": "request_human", "confidence": 0.97}
        assert (await app.client.get("/healthz")).json()["nlu"]["status"] == "rasa"

        fake_rasa.mode = "error"
        parsed = (await post_parse(app, {"text": "xin chào"})).json()
        assert parsed["intent"]["name"] == "greet"  # the built-in engine answered
        nlu = (await app.client.get("/healthz")).json()["nlu"]
        assert (nlu["status"], nlu["last_error"]) == ("fallback", "HTTP 500")


async def test_worker_asks_rasa_before_the_bot_decides(
    database_url: str, fake_telegram: FakeTelegram, fake_rasa: FakeRasa
) -> None:
    settings = make_settings(
        database_url, fake_telegram.url, nlu_backend="rasa", rasa_url=fake_rasa.url
    )
    async with running_app(settings) as app:
        await app.telegram(updates.text_update(991000101, "zzz mystery words"))
        await fake_telegram.wait_for_sent(1)
        await app.settle()
        assert {"text": "zzz mystery words"} in fake_rasa.requests
        assert await app.count(Message, direction="in", intent="request_human") == 1
        conversations = (await app.get("/api/v1/conversations")).json()["items"]
        assert [c["status"] for c in conversations] == ["waiting_agent"]
