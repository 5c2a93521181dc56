"""The first bot's decisions, as tables: no fakes needed, a decision is plain data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conversations.bot import BotContext, BotDecision, FirstBot, call_name
from conversations.faq import FaqBook
from nlu import BuiltinNLU
from nlu.types import IntentScore, ParseResult

VI_OFFER = "Bạn có muốn gặp nhân viên tư vấn không?"
EN_OFFER = "Would you like to talk to a staff member?"
NEW = BotContext(
    text="",
    customer_name=None,
    is_returning=False,
    preferred_language=None,
    offered_human=False,
    failed_turns=0,
)


@pytest.fixture(scope="module")
def bot() -> FirstBot:
    return FirstBot(nlu=BuiltinNLU(), faq=FaqBook.load())


def say(bot: FirstBot, text: str, **context: Any) -> BotDecision:
    return bot.decide(replace(NEW, text=text, **context))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Xin chào", "vi"),
        ("xin chao", "vi"),
        ("alo shop", "vi"),
        ("hi", "en"),
        ("hello there", "en"),
    ],
)
def test_greeting_says_what_the_bot_can_do(bot: FirstBot, text: str, language: str) -> None:
    decision = say(bot, text)
    assert (decision.intent, decision.language, decision.understood) == ("greet", language, True)
    assert not decision.handoff and not decision.offer_human
    assert len(decision.replies) == 2
    help_words = {"vi": "giờ mở cửa", "en": "opening hours"}[language]
    assert help_words in decision.replies[1]


def test_vietnamese_greeting_is_vietnamese(bot: FirstBot) -> None:
    assert say(bot, "xin chào").replies[0] == "Xin chào! Cảm ơn bạn đã liên hệ Omni Spa & Clinic."


def test_english_greeting_is_english(bot: FirstBot) -> None:
    decision = say(bot, "hello")
    assert decision.replies[0] == "Hi there, thanks for contacting Omni Spa & Clinic!"
    assert not any("bạn" in reply for reply in decision.replies)


@pytest.mark.parametrize(
    ("text", "name", "preferred", "expected"),
    [
        ("xin chào", "Lan", None, "Chào Lan, rất vui được gặp lại bạn!"),
        ("chao shop", "Nguyễn Thị Lan", "vi", "Chào Lan, rất vui được gặp lại bạn!"),
        ("hi", "Lan", "vi", "Hi Lan, welcome back!"),
        ("hello", "John Smith", "en", "Hi John, welcome back!"),
        ("xin chào", None, None, "Chào bạn, rất vui được gặp lại!"),
    ],
)
def test_returning_customer_is_welcomed_back(
    bot: FirstBot, text: str, name: str | None, preferred: str | None, expected: str
) -> None:
    decision = say(bot, text, customer_name=name, is_returning=True, preferred_language=preferred)
    assert decision.replies[0] == expected


def test_known_new_customer_is_greeted_by_name_without_welcome_back(bot: FirstBot) -> None:
    decision = say(bot, "xin chào", customer_name="Trần Minh Anh")
    assert decision.replies[0] == "Chào Anh, cảm ơn bạn đã liên hệ Omni Spa & Clinic!"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Lan", "Lan"),
        ("Nguyễn Thị Lan", "Lan"),
        ("nguyen van an", "an"),
        ("John Smith", "John"),
        ("  ", None),
        (None, None),
        ("x" * 60, None),
    ],
)
def test_call_name(name: str | None, expected: str | None) -> None:
    assert call_name(name) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("toi muon gap nhan vien", "vi"),
        ("cho mình gặp người thật", "vi"),
        ("talk to a human please", "en"),
        ("cho e gặp nv tư vấn", "vi"),
    ],
)
def test_request_human_hands_off(bot: FirstBot, text: str, language: str) -> None:
    decision = say(bot, text)
    assert (decision.intent, decision.handoff, decision.language) == (
        "request_human",
        True,
        language,
    )
    staff = {"vi": "nhân viên", "en": "staff"}[language]
    assert staff in decision.replies[0]


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("cảm ơn", "thank", "Dạ không có gì ạ!"),
        ("cam on shop nhieu nha", "thank", "Dạ không có gì ạ!"),
        ("thanks", "thank", "You're welcome!"),
        ("tạm biệt", "goodbye", "Chúc bạn một ngày tốt lành!"),
        ("bye", "goodbye", "Have a lovely day!"),
    ],
)
def test_thanks_and_goodbye_are_answered_politely(
    bot: FirstBot, text: str, intent: str, expected: str
) -> None:
    decision = say(bot, text)
    assert (decision.intent, decision.understood, decision.handoff) == (intent, True, False)
    assert expected in decision.replies[0]


@pytest.mark.parametrize(
    ("text", "faq_id", "language", "expected"),
    [
        ("giờ mở cửa", "opening_hours", "vi", "9:00 đến 20:00"),
        ("mấy giờ mở cửa vậy", "opening_hours", "vi", "9:00 đến 20:00"),
        ("what are your opening hours", "opening_hours", "en", "9:00–20:00"),
        ("cho hỏi giá tư vấn bao nhiêu", "consultation_price", "vi", "miễn phí"),
        ("xin chào, cho hỏi mấy h mở cửa ạ", "opening_hours", "vi", "9:00 đến 20:00"),
        ("có wifi không", "wifi", "vi", "OmniSpa-Guest"),
        ("is there parking", "parking", "en", "Motorbike parking"),
    ],
)
def test_faq_questions_get_the_answer_in_their_language(
    bot: FirstBot, text: str, faq_id: str, language: str, expected: str
) -> None:
    decision = say(bot, text)
    assert (decision.intent, decision.language) == (f"faq/{faq_id}", language)
    assert decision.understood and not decision.handoff and not decision.offer_human
    assert expected in decision.replies[0]


def test_faq_answer_follows_the_text_not_the_stored_language(bot: FirstBot) -> None:
    decision = say(bot, "what time do you open?", preferred_language="vi")
    assert decision.language == "en" and "Monday" in decision.replies[0]


def test_faq_that_offers_a_human_says_so(bot: FirstBot) -> None:
    decision = say(bot, "làm sao để đặt lịch")
    assert decision.intent == "faq/how_to_book"
    assert decision.offer_human and not decision.handoff


@pytest.mark.parametrize(
    ("text", "intent", "language"),
    [
        ("tôi muốn đặt lịch ngày mai lúc 3h", "book_consultation", "vi"),
        ("nhân viên thái độ kém quá, tôi muốn khiếu nại", "complaint", "vi"),
        ("giá liệu trình trị mụn bao nhiêu", "pricing", "vi"),
        ("how much", "pricing", "en"),
        ("where is my order", "order_status", "en"),
        ("đơn hàng của mình đâu rồi", "order_status", "vi"),
    ],
)
def test_business_intents_offer_a_human(
    bot: FirstBot, text: str, intent: str, language: str
) -> None:
    decision = say(bot, text)
    assert (decision.intent, decision.language) == (intent, language)
    assert decision.understood and decision.offer_human and not decision.handoff
    assert decision.replies[0].endswith({"vi": VI_OFFER, "en": EN_OFFER}[language])


@pytest.mark.parametrize("text", ["ok", "có", "dạ vâng", "yes please", "👍"])
def test_yes_to_an_offer_hands_off(bot: FirstBot, text: str) -> None:
    decision = say(bot, text, offered_human=True)
    assert (decision.intent, decision.handoff, decision.understood) == ("affirm", True, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("không", "Mình có thể giúp gì thêm cho bạn?"),
        ("ko cần đâu", "Mình có thể giúp gì thêm"),
        ("no thanks", "What else can I help you with?"),
    ],
)
def test_no_to_an_offer_keeps_the_bot(bot: FirstBot, text: str, expected: str) -> None:
    decision = say(bot, text, offered_human=True)
    assert (decision.intent, decision.handoff, decision.offer_human) == ("deny", False, False)
    assert expected in decision.replies[0]


def test_yes_without_an_offer_does_not_hand_off(bot: FirstBot) -> None:
    decision = say(bot, "ok")
    assert decision.intent == "affirm" and not decision.handoff and decision.understood


def test_question_after_an_offer_is_answered_not_taken_as_yes(bot: FirstBot) -> None:
    decision = say(bot, "có wifi không", offered_human=True)
    assert decision.intent == "faq/wifi" and not decision.handoff


@pytest.mark.parametrize(
    ("text", "preferred", "language", "expected"),
    [
        ("asdf qwer", None, "vi", f"Xin lỗi, mình chưa hiểu ý bạn. {VI_OFFER}"),
        ("thời tiết hôm nay thế nào", None, "vi", f"Xin lỗi, mình chưa hiểu ý bạn. {VI_OFFER}"),
        ("tell me a joke", None, "en", f"Sorry, I didn't quite understand that. {EN_OFFER}"),
        ("👽", "en", "en", f"Sorry, I didn't quite understand that. {EN_OFFER}"),
    ],
)
def test_first_miss_is_honest_and_offers_a_human(
    bot: FirstBot, text: str, preferred: str | None, language: str, expected: str
) -> None:
    decision = say(bot, text, preferred_language=preferred)
    assert decision.replies == (expected,)
    assert decision.language == language
    assert (decision.understood, decision.offer_human, decision.handoff) == (False, True, False)
    assert decision.intent == "out_of_scope"


@pytest.mark.parametrize("failed_turns", [1, 2])
def test_second_miss_in_a_row_hands_off(bot: FirstBot, failed_turns: int) -> None:
    decision = say(bot, "asdf qwer", failed_turns=failed_turns, offered_human=True)
    assert (decision.understood, decision.handoff, decision.offer_human) == (False, True, False)
    assert "nhân viên tư vấn" in decision.replies[0]


def test_understood_turn_after_a_miss_does_not_hand_off(bot: FirstBot) -> None:
    decision = say(bot, "giờ mở cửa", failed_turns=1)
    assert decision.understood and not decision.handoff


@pytest.mark.parametrize("preferred", [None, "vi", "fr"])
def test_unsure_language_defaults_to_vietnamese(bot: FirstBot, preferred: str | None) -> None:
    assert say(bot, "ok", preferred_language=preferred).language == "vi"


def test_unsure_language_keeps_the_customers_english(bot: FirstBot) -> None:
    decision = say(bot, "ok", preferred_language="en")
    assert decision.language == "en" and decision.replies[0].startswith("Great.")


def test_business_name_is_configurable() -> None:
    bot = FirstBot(nlu=BuiltinNLU(), faq=FaqBook.load(), business_name="Lotus Clinic")
    assert "Lotus Clinic" in bot.decide(replace(NEW, text="hi")).replies[0]


def test_vietnamese_replies_carry_diacritics(bot: FirstBot) -> None:
    texts = ["xin chào", "cảm ơn", "tạm biệt", "gặp nhân viên", "asdf", "khiếu nại", "ok"]
    for text in texts:
        for reply in say(bot, text).replies:
            assert not reply.isascii(), reply


def parsed(text: str, *ranking: tuple[str, float]) -> ParseResult:
    """A parse as any backend (Rasa included) could return it."""
    scores = tuple(IntentScore(name, confidence) for name, confidence in ranking)
    return ParseResult(text, scores[0], scores, (), "vi")


class RefusingNLU:
    """Stands in for the engine when the caller already parsed: must not be asked again."""

    def parse(self, text: str, **_: Any) -> ParseResult:
        raise AssertionError(f"parsed twice: {text!r}")


@pytest.fixture
def given() -> FirstBot:
    return FirstBot(nlu=RefusingNLU(), faq=FaqBook.load())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "ranking", "expected"),
    [
        (
            "muốn làm lại cái hôm trước",
            [("reschedule_appointment", 0.45), ("book_consultation", 0.35), ("greet", 0.1)],
            "Xin lỗi, mình chưa chắc đã hiểu đúng ý bạn. Bạn muốn đổi lịch hẹn hay "
            "đặt lịch tư vấn ạ?",
        ),
        (
            "the thing from last time",
            [("out_of_scope", 0.55), ("order_status", 0.4), ("complaint", 0.05)],
            "Sorry, I'm not sure I understood. Would you like to check on an order or talk to "
            "a staff member?",
        ),
        (
            "lịch",
            [("out_of_scope", 0.75), ("book_consultation", 0.75), ("cancel_appointment", 0.3)],
            "Xin lỗi, mình chưa chắc đã hiểu đúng ý bạn. Bạn muốn đặt lịch tư vấn hay "
            "hủy lịch hẹn ạ?",
        ),
    ],
)
def test_low_confidence_asks_which_instead_of_guessing(
    given: FirstBot, text: str, ranking: list[tuple[str, float]], expected: str
) -> None:
    decision = given.decide(replace(NEW, text=text, parsed=parsed(text, *ranking)))
    assert decision.replies == (expected,)
    assert (decision.understood, decision.offer_human, decision.handoff) == (False, False, False)
    assert decision.intent == ranking[0][0]


def test_unsure_twice_in_a_row_goes_to_a_human(given: FirstBot) -> None:
    text = "muốn làm lại cái hôm trước"
    unsure = parsed(text, ("reschedule_appointment", 0.45), ("book_consultation", 0.35))
    decision = given.decide(replace(NEW, text=text, parsed=unsure, failed_turns=1))
    assert decision.handoff and not decision.understood
    assert "nhân viên tư vấn" in decision.replies[0]


@pytest.mark.parametrize(
    ("ranking", "intent", "handoff"),
    [
        ([("request_human", 0.9), ("complaint", 0.05)], "request_human", True),
        ([("book_consultation", 0.61), ("pricing", 0.3)], "book_consultation", False),
    ],
)
def test_confident_intents_are_acted_on(
    given: FirstBot, ranking: list[tuple[str, float]], intent: str, handoff: bool
) -> None:
    decision = given.decide(replace(NEW, text="abc xyz", parsed=parsed("abc xyz", *ranking)))
    assert (decision.intent, decision.understood, decision.handoff) == (intent, True, handoff)


@pytest.mark.parametrize(
    "ranking",
    [
        [("out_of_scope", 0.9), ("pricing", 0.05)],  # nothing close: say so, offer a human
        [("out_of_scope", 0.6), ("greet", 0.4)],  # social intents are not worth a question
        [("out_of_scope", 0.6), ("request_human", 0.3)],  # the offer already covers it
    ],
)
def test_nothing_to_choose_between_is_not_understood(
    given: FirstBot, ranking: list[tuple[str, float]]
) -> None:
    decision = given.decide(replace(NEW, text="abc xyz", parsed=parsed("abc xyz", *ranking)))
    assert decision.replies == (f"Xin lỗi, mình chưa hiểu ý bạn. {VI_OFFER}",)
    assert decision.offer_human and not decision.understood


def test_a_low_confidence_thank_you_is_still_thanked(given: FirstBot) -> None:
    text = "cam on nha"
    decision = given.decide(replace(NEW, text=text, parsed=parsed(text, ("thank", 0.4))))
    assert decision.intent == "thank" and decision.understood


def test_faq_answer_still_wins_over_an_unsure_intent(given: FirstBot) -> None:
    text = "giờ mở cửa"
    unsure = parsed(text, ("pricing", 0.4), ("book_consultation", 0.3))
    decision = given.decide(replace(NEW, text=text, parsed=unsure))
    assert decision.intent == "faq/opening_hours" and decision.understood


def test_greeting_with_a_question_gets_the_answer(bot: FirstBot) -> None:
    decision = say(bot, "hi, is there parking")
    assert decision.intent == "faq/parking" and "Motorbike parking" in decision.replies[0]
