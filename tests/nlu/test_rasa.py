"""The Rasa backend against a fake Rasa server: success, failures → built-in, recovery."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from nlu import BuiltinNLU
from nlu.backend import BuiltinBackend, build_nlu
from nlu.entities import EntityExtractor
from nlu.rasa import RasaClient, RasaNLU, parse_result
from tests.fakes.rasa import FakeRasa

NOW = datetime.fromisoformat("2026-11-20T10:00:00+07:00")


@pytest.fixture(scope="module")
def builtin() -> BuiltinNLU:
    return BuiltinNLU()


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa(intents={"mình muốn khiếu nại": ("complaint", 0.83)})
    await fake.start()
    yield fake
    await fake.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backend(
    url: str, builtin: BuiltinNLU, *, timeout_s: float = 2.0, retry_s: float = 0.0, clock=None
) -> RasaNLU:
    return RasaNLU(
        RasaClient(url, timeout_s=timeout_s),
        builtin=builtin,
        entities=EntityExtractor(),
        retry_s=retry_s,
        clock=clock or time.monotonic,
    )


async def test_rasa_answer_becomes_a_parse_result(rasa: FakeRasa, builtin: BuiltinNLU) -> None:
    nlu = backend(rasa.url, builtin)
    result = await nlu.parse("mình muốn khiếu nại", now=NOW)
    assert rasa.requests == [{"text": "mình muốn khiếu nại"}]
    assert (result.intent.name, result.intent.confidence) == ("complaint", 0.83)
    assert [s.name for s in result.intent_ranking] == ["complaint", "out_of_scope"]
    assert result.language == "vi"
    assert nlu.status()["status"] == "rasa"
    await nlu.aclose()


async def test_our_normalised_entities_win_and_rasas_others_are_kept(
    rasa: FakeRasa, builtin: BuiltinNLU
) -> None:
    nlu = backend(rasa.url, builtin)
    text = "Lan đây, sđt 0912 345 678, hẹn 9h sáng mai"
    entities = (await nlu.parse(text, now=NOW)).to_rasa()["entities"]
    assert [(e["entity"], e["value"]) for e in entities] == [
        ("name", "Lan"),
        ("phone", "+84912345678"),
        ("datetime", "2026-11-21T09:00:00+07:00"),
    ]
    assert entities[0]["confidence"] == 0.87  # Rasa's confidence_entity
    await nlu.aclose()


async def test_timeout_falls_back_to_the_builtin_engine(
    rasa: FakeRasa, builtin: BuiltinNLU
) -> None:
    rasa.mode, rasa.delay_s = "slow", 2.0
    nlu = backend(rasa.url, builtin, timeout_s=0.2)
    started = time.perf_counter()
    result = await nlu.parse("xin chào", now=NOW)
    assert time.perf_counter() - started < 1.5  # did not wait for the slow server
    assert result == builtin.parse("xin chào", now=NOW)
    status = nlu.status()
    assert status["status"] == "fallback" and "timeout" in status["last_error"]
    await nlu.aclose()


@pytest.mark.parametrize("mode", ["error", "garbage"])
async def test_server_error_falls_back(rasa: FakeRasa, builtin: BuiltinNLU, mode: str) -> None:
    rasa.mode = mode
    nlu = backend(rasa.url, builtin)
    result = await nlu.parse("cho mình gặp nhân viên", now=NOW)
    assert result == builtin.parse("cho mình gặp nhân viên", now=NOW)
    assert nlu.status()["status"] == "fallback"
    assert len(rasa.requests) == 1
    await nlu.aclose()


async def test_connection_refused_falls_back(rasa: FakeRasa, builtin: BuiltinNLU) -> None:
    url = rasa.url
    await rasa.stop()
    nlu = backend(url, builtin)
    result = await nlu.parse("hello", now=NOW)
    assert result.intent == builtin.parse("hello").intent
    assert nlu.status()["status"] == "fallback"
    await nlu.aclose()


async def test_recovery_is_noticed_and_an_outage_is_logged_once(
    rasa: FakeRasa, builtin: BuiltinNLU, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="nlu.rasa")
    nlu = backend(rasa.url, builtin)
    rasa.mode = "error"
    for _ in range(3):
        await nlu.parse("hi")
    assert nlu.status()["status"] == "fallback"
    rasa.mode = "ok"
    result = await nlu.parse("mình muốn khiếu nại")
    assert result.intent.name == "complaint"
    assert nlu.status() == {
        "backend": "rasa",
        "status": "rasa",
        "url": f"{rasa.url}/model/parse",
        "last_error": None,
        "down_since": None,
    }
    messages = [record.getMessage() for record in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("answers again" in m for m in messages) == 1
    await nlu.aclose()


async def test_while_down_rasa_is_only_probed_after_the_retry_interval(
    rasa: FakeRasa, builtin: BuiltinNLU
) -> None:
    clock = Clock()
    nlu = backend(rasa.url, builtin, retry_s=10.0, clock=clock)
    rasa.mode = "error"
    await nlu.parse("hi")
    await nlu.parse("hi")
    assert len(rasa.requests) == 1  # the second message did not wait on a dead server
    rasa.mode = "ok"
    clock.now += 11
    await nlu.parse("hi")
    assert len(rasa.requests) == 2 and nlu.status()["status"] == "rasa"
    await nlu.aclose()


async def test_token_in_the_url_is_sent(rasa: FakeRasa, builtin: BuiltinNLU) -> None:
    nlu = backend(f"{rasa.url}/?token=s3cret", builtin)
    await nlu.parse("hi")
    assert rasa.queries == [{"token": "s3cret"}]
    assert "s3cret" not in nlu.status()["url"]
    await nlu.aclose()


def test_a_parse_without_an_intent_is_out_of_scope() -> None:
    result = parse_result(
        {"text": "x", "intent": None, "entities": []}, text="x", ours=[], default_language="en"
    )
    assert (result.intent.name, result.intent.confidence, result.language) == (
        "out_of_scope",
        1.0,
        "en",
    )


async def test_build_nlu_picks_the_backend(builtin: BuiltinNLU) -> None:
    plain = build_nlu(backend="builtin", rasa_url=None, timeout_s=2.0, builtin=builtin)
    assert isinstance(plain, BuiltinBackend)
    assert plain.status() == {"backend": "builtin", "status": "builtin"}
    assert (await plain.parse("xin chào")).intent.name == "greet"
    remote = build_nlu(
        backend="rasa", rasa_url="http://127.0.0.1:1", timeout_s=0.5, builtin=builtin
    )
    assert isinstance(remote, RasaNLU) and remote.status()["status"] == "rasa"
    assert (await remote.parse("xin chào")).intent.name == "greet"  # nothing listens on :1
    assert remote.status()["status"] == "fallback"
    await remote.aclose()
    with pytest.raises(ValueError, match="RASA_URL"):
        build_nlu(backend="rasa", rasa_url=None, timeout_s=2.0, builtin=builtin)
    with pytest.raises(ValueError, match="unknown"):
        build_nlu(backend="spacy", rasa_url=None, timeout_s=2.0, builtin=builtin)
