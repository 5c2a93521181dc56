"""The built-in NLU recognises each intent in Vietnamese, unaccented Vietnamese and English."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nlu import BuiltinNLU, IntentScore, ParseResult


@pytest.fixture(scope="module")
def nlu() -> BuiltinNLU:
    return BuiltinNLU()


@pytest.mark.parametrize(
    ("text", "intent", "language"),
    [
        ("Xin chào", "greet", "vi"),
        ("xin chao", "greet", "vi"),
        ("chào shop", "greet", "vi"),
        ("hi", "greet", "en"),
        ("hello there", "greet", "en"),
        ("good morning", "greet", "en"),
        ("tạm biệt", "goodbye", "vi"),
        ("chào tạm biệt nhé", "goodbye", "vi"),
        ("bye bye", "goodbye", "en"),
        ("cảm ơn", "thank", "vi"),
        ("cam on ban nhieu", "thank", "vi"),
        ("tks shop", "thank", "vi"),
        ("thanks", "thank", "en"),
        ("thank you so much", "thank", "en"),
        ("ok cảm ơn", "thank", "vi"),
        ("vâng ạ", "affirm", "vi"),
        ("có", "affirm", "vi"),
        ("dạ", "affirm", "vi"),
        ("yes please", "affirm", "en"),
        ("không cần đâu", "deny", "vi"),
        ("ko can", "deny", "vi"),
        ("no thanks", "deny", "en"),
        ("toi muon gap nhan vien", "request_human", "vi"),
        ("cho mình gặp người thật", "request_human", "vi"),
        ("cho e gặp nv", "request_human", "vi"),
        ("talk to a human please", "request_human", "en"),
        ("can I speak to a real person", "request_human", "en"),
        ("tôi muốn đặt lịch ngày mai", "book_consultation", "vi"),
        ("dat lich tu van chieu nay", "book_consultation", "vi"),
        ("book an appointment for tomorrow", "book_consultation", "en"),
        ("tôi muốn khiếu nại", "complaint", "vi"),
        ("nhân viên thái độ kém quá", "complaint", "vi"),
        ("terrible service, I want a refund", "complaint", "en"),
        ("giá bao nhiêu vậy", "pricing", "vi"),
        ("gia bn", "pricing", "vi"),
        ("how much does it cost", "pricing", "en"),
        ("bên bạn có những dịch vụ gì", "product_info", "vi"),
        ("what services do you offer", "product_info", "en"),
        ("đơn hàng của mình đâu rồi", "order_status", "vi"),
        ("where is my order", "order_status", "en"),
    ],
)
def test_intents(nlu: BuiltinNLU, text: str, intent: str, language: str) -> None:
    result = nlu.parse(text)
    assert (result.intent.name, result.language) == (intent, language)
    assert result.intent.confidence >= 0.5


@pytest.mark.parametrize(
    "text",
    ["asdf qwer", "", "👽", "thời tiết hôm nay thế nào", "tell me a joke", "bạn bao nhiêu tuổi"],
)
def test_out_of_scope(nlu: BuiltinNLU, text: str) -> None:
    result = nlu.parse(text)
    assert result.intent.name == "out_of_scope"
    assert result.intent.confidence >= 0.5


@pytest.mark.parametrize(
    ("text", "not_intent"),
    [
        # A yes/no question is not an answer, and a greeting buried in a question is no greeting.
        ("có wifi không", "affirm"),
        ("có wifi không", "deny"),
        ("xin chào, cho hỏi giá tư vấn bao nhiêu", "greet"),
        # Letters inside other words carry no intent: "hi" in "chi", "no" in "notebook".
        ("chi phí thế nào", "greet"),
        ("notebook", "deny"),
        # Diacritics matter for shorthand: "hồng" (pink) is not "không".
        ("màu hồng", "deny"),
    ],
)
def test_does_not_misfire(nlu: BuiltinNLU, text: str, not_intent: str) -> None:
    assert nlu.parse(text).intent.name != not_intent


def test_ranking_is_sorted_bounded_and_consistent(nlu: BuiltinNLU) -> None:
    result = nlu.parse("xin chào, cho hỏi giá tư vấn bao nhiêu")
    confidences = [score.confidence for score in result.intent_ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < len(result.intent_ranking) <= 10
    assert result.intent == result.intent_ranking[0]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert "greet" in {score.name for score in result.intent_ranking}


def test_to_rasa_shape(nlu: BuiltinNLU) -> None:
    body = nlu.parse("Xin chào").to_rasa()
    assert set(body) == {"text", "intent", "entities", "intent_ranking", "language"}
    assert body["text"] == "Xin chào"
    assert body["intent"]["name"] == "greet"
    assert set(body["intent"]) == {"name", "confidence"}
    assert body["entities"] == []
    assert body["intent_ranking"][0] == body["intent"]
    assert body["language"] == "vi"


def test_to_rasa_copies_entities() -> None:
    entity = {"entity": "name", "value": "Lan", "start": 0, "end": 3}
    result = ParseResult(
        text="Lan",
        intent=IntentScore("greet", 0.9),
        intent_ranking=(IntentScore("greet", 0.9),),
        entities=(entity,),
        language="vi",
    )
    assert result.to_rasa()["entities"] == [entity]
    assert result.to_rasa()["intent_ranking"] == [{"name": "greet", "confidence": 0.9}]


def test_custom_training_data(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "  - intent: ask_weather\n"
        "    examples: |\n"
        "      - thời tiết [Hà Nội](city) thế nào\n"
        "      - trời có mưa không\n"
        "      - hôm nay nắng không\n"
        "  - intent: greet\n"
        "    examples: |\n"
        "      - chào\n"
        "      - xin chào bạn\n"
        "      - hello\n",
        encoding="utf-8",
    )
    nlu = BuiltinNLU(data_path=data, embeddings="never")
    assert nlu.parse("thoi tiet ha noi the nao").intent.name == "ask_weather"
    assert nlu.parse("chào").intent.name == "greet"
    assert set(nlu.intents) == {"ask_weather", "greet", "out_of_scope"}


def test_training_data_without_intents_is_rejected(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text('version: "3.1"\nnlu:\n  - synonym: spa\n    examples: |\n      - sp\n')
    with pytest.raises(ValueError, match="no intent examples"):
        BuiltinNLU(data_path=data, embeddings="never")


def test_parse_takes_now_and_fills_entities(nlu: BuiltinNLU) -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    booking = nlu.parse("mình muốn đặt lịch 9h sáng mai", now=now)
    assert booking.intent.name == "book_consultation"
    [when] = [e for e in booking.entities if e["entity"] == "datetime"]
    assert when["value"] == "2026-11-21T09:00:00+07:00"
    contact = nlu.parse("sđt của mình là 0912 345 678", now=now)
    assert contact.intent.name == "provide_contact"
    [phone] = contact.to_rasa()["entities"]
    assert (phone["entity"], phone["value"]) == ("phone", "+84912345678")


@pytest.mark.parametrize("nudge", [0.0, 0.01])
def test_score_exactly_at_threshold_is_accepted(nudge: float) -> None:
    probe = BuiltinNLU(embeddings="never")
    confidence = probe.parse("chào shop").intent.confidence  # rounded down or equal
    nlu = BuiltinNLU(embeddings="never", threshold=confidence + nudge)
    result = nlu.parse("chào shop")
    assert result.intent.name == ("greet" if nudge == 0 else "out_of_scope")
    assert result.intent == result.intent_ranking[0]


_SMALL = (
    'version: "3.1"\nnlu:\n'
    "  - intent: greet\n    examples: |\n      - xin chào\n      - hello\n      - chào shop\n"
    "  - intent: pricing\n    examples: |\n      - giá bao nhiêu\n      - how much\n"
    "      - bao nhiêu tiền\n"
)


def test_cold_start_serves_the_fast_branch_and_upgrades_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlu import builtin

    monkeypatch.setenv("OMNICRM_NLU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(builtin, "_SHARED", {})
    data = tmp_path / "nlu.yml"
    data.write_text(_SMALL, encoding="utf-8")
    nlu = BuiltinNLU(data_path=data, background=True)
    for _ in range(50):  # parses keep working whichever model is in use
        assert nlu.parse("giá bao nhiêu vậy").intent.name == "pricing"
    assert nlu.wait_ready(timeout=120)
    assert nlu.classifier._full is not None  # the embedding branch is in use now
    assert list((tmp_path / "cache").glob("intents-*.npz"))  # and cached for the next start
    monkeypatch.setattr(builtin, "_SHARED", {})  # a new process: ready at once, from disk
    again = BuiltinNLU(data_path=data, background=True)
    assert again.ready and again.classifier._full is not None


def test_blocking_start_trains_everything_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlu import builtin

    monkeypatch.setenv("OMNICRM_NLU_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv(builtin.BLOCKING_ENV, "1")
    monkeypatch.setattr(builtin, "_SHARED", {})
    data = tmp_path / "nlu.yml"
    data.write_text(_SMALL, encoding="utf-8")
    nlu = BuiltinNLU(data_path=data)
    assert nlu.ready and nlu.classifier._full is not None
