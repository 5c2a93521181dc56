"""The built-in NLU recognises each intent in Vietnamese, unaccented Vietnamese and English."""

from __future__ import annotations

import time
from pathlib import Path

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
        # Whole words only: "hi" inside "chi", "no" inside "nothing" do not count.
        ("chi phí thế nào", "greet"),
        ("nothing", "deny"),
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
        "keywords:\n"
        "  greet:\n"
        "    standalone: true\n"
        "    phrases:\n"
        "      chào: 0.9\n",
        encoding="utf-8",
    )
    nlu = BuiltinNLU(data_path=data)
    assert nlu.parse("thoi tiet ha noi the nao").intent.name == "ask_weather"
    assert nlu.parse("chào").intent.name == "greet"
    assert set(nlu.intents) == {"ask_weather", "greet", "out_of_scope"}


def test_unquoted_yaml_boolean_phrase_is_rejected(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text("keywords:\n  deny:\n    phrases:\n      no: 0.9\n", encoding="utf-8")
    with pytest.raises(ValueError, match="quote"):
        BuiltinNLU(data_path=data)


def test_parse_is_fast(nlu: BuiltinNLU) -> None:
    texts = ["Xin chào", "cho hỏi giá tư vấn bao nhiêu", "talk to a human please", "asdf qwer"]
    rounds = 250
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            nlu.parse(text)
    per_parse = (time.perf_counter() - started) / (rounds * len(texts))
    assert per_parse < 0.001


@pytest.mark.parametrize(("threshold", "expected"), [(0.5, "greet"), (0.51, "out_of_scope")])
def test_score_exactly_at_threshold_is_accepted(
    tmp_path: Path, threshold: float, expected: str
) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text("keywords:\n  greet:\n    phrases:\n      chào: 0.5\n", encoding="utf-8")
    result = BuiltinNLU(data_path=data, threshold=threshold).parse("chào")
    assert result.intent.name == expected
    assert result.intent == result.intent_ranking[0]
