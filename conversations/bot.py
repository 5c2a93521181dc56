"""The first bot: greets, answers FAQs, and offers or calls a human when it cannot help."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.faq import FaqBook
from nlu.builtin import BuiltinNLU
from nlu.text import detect_language, strip_diacritics
from nlu.types import IntentScore, ParseResult

# Below this an intent is a hint: a matching FAQ answer wins over it.
STRONG = 0.6
# Below this an intent that would change something (book, hand off, complain...) is not acted
# on: the bot asks which of the likeliest ones the customer means.
ASK_BELOW = 0.6
# An intent needs at least this much to be offered as a choice in that question.
_CHOICE_FLOOR = 0.2
_MAX_CHOICES = 2
OUT_OF_SCOPE = "out_of_scope"
# How a choice is put in the question; a phrase the customer can answer with as it is.
_CHOICE_TEXTS: dict[str, dict[str, str]] = {
    "book_consultation": {"vi": "đặt lịch tư vấn", "en": "book a consultation"},
    "reschedule_appointment": {"vi": "đổi lịch hẹn", "en": "reschedule an appointment"},
    "cancel_appointment": {"vi": "hủy lịch hẹn", "en": "cancel an appointment"},
    "complaint": {"vi": "phản ánh, khiếu nại", "en": "make a complaint"},
    "request_human": {"vi": "nói chuyện với nhân viên", "en": "talk to a staff member"},
    "order_status": {"vi": "kiểm tra đơn hàng", "en": "check on an order"},
    "product_info": {"vi": "tìm hiểu về dịch vụ", "en": "find out about our services"},
    "pricing": {"vi": "hỏi giá", "en": "ask about prices"},
    "opt_out": {"vi": "ngừng nhận tin nhắn", "en": "stop receiving messages"},
    "provide_contact": {"vi": "để lại thông tin liên hệ", "en": "leave your contact details"},
}
# Strong intents answered before the FAQ is searched. Not greet: "xin chào, mấy giờ mở cửa?"
# is a question with a greeting in front, and a bare greeting matches no FAQ entry anyway.
_BEFORE_FAQ = frozenset({"request_human", "thank", "goodbye", "affirm", "deny", "complaint"})
_OFFER_INTENTS = frozenset(
    {"book_consultation", "complaint", "pricing", "order_status", "product_info"}
)
# Vietnamese names put the family name first and people are called by the last word.
# fmt: off
_VI_FAMILY_NAMES = frozenset(
    {
        "nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do",
        "ho", "ngo", "duong", "ly", "dinh", "trinh", "mai", "truong", "lam", "luong", "cao", "ta",
        "ha",
    }
)
# fmt: on
_TEXTS: dict[str, dict[str, str]] = {
    "greet_back_name": {
        "vi": "Chào {name}, rất vui được gặp lại bạn!",
        "en": "Hi {name}, welcome back!",
    },
    "greet_back": {"vi": "Chào bạn, rất vui được gặp lại!", "en": "Hi, welcome back!"},
    "greet_name": {
        "vi": "Chào {name}, cảm ơn bạn đã liên hệ {business}!",
        "en": "Hi {name}, thanks for contacting {business}!",
    },
    "greet": {
        "vi": "Xin chào! Cảm ơn bạn đã liên hệ {business}.",
        "en": "Hi there, thanks for contacting {business}!",
    },
    "help": {
        "vi": "Mình có thể giải đáp về giờ mở cửa, địa chỉ, giá tư vấn, cách đặt lịch, hoặc kết "
        "nối bạn với nhân viên tư vấn. Bạn cần hỗ trợ gì ạ?",
        "en": "I can help with our opening hours, address, consultation prices and booking, or "
        "put you in touch with a staff member. What can I do for you?",
    },
    "thank": {
        "vi": "Dạ không có gì ạ! Bạn cần hỗ trợ thêm gì cứ nhắn cho mình nhé.",
        "en": "You're welcome! Let me know if there's anything else I can help with.",
    },
    "goodbye": {
        "vi": "Cảm ơn bạn đã liên hệ {business}. Chúc bạn một ngày tốt lành!",
        "en": "Thanks for contacting {business}. Have a lovely day!",
    },
    "handoff": {
        "vi": "Dạ, mình đã báo nhân viên tư vấn. Một bạn nhân viên sẽ vào trò chuyện với bạn "
        "ngay ạ.",
        "en": "Sure, I've asked a member of our staff to join. They'll be with you shortly.",
    },
    "decline": {
        "vi": "Dạ vâng ạ. Mình có thể giúp gì thêm cho bạn?",
        "en": "No problem. What else can I help you with?",
    },
    "ack": {
        "vi": "Dạ vâng ạ. Bạn cần mình hỗ trợ gì thêm không?",
        "en": "Great. Is there anything else I can help you with?",
    },
    "offer": {
        "vi": "Bạn có muốn gặp nhân viên tư vấn không?",
        "en": "Would you like to talk to a staff member?",
    },
    "book_consultation": {
        "vi": "Mình chưa thể tự xếp lịch hẹn, nhưng nhân viên tư vấn có thể đặt lịch giúp bạn "
        "ngay.",
        "en": "I can't schedule appointments myself yet, but a colleague can book one for you.",
    },
    "complaint": {
        "vi": "Mình rất tiếc vì trải nghiệm chưa tốt của bạn. Việc này cần một nhân viên trực "
        "tiếp lắng nghe và xử lý cho bạn.",
        "en": "I'm sorry to hear about your experience. A member of our staff should look into "
        "this with you personally.",
    },
    "pricing": {
        "vi": "Giá tùy theo dịch vụ và tình trạng cụ thể, nhân viên tư vấn sẽ báo giá chính xác "
        "cho bạn.",
        "en": "Prices depend on the treatment and your needs, so a colleague will give you an "
        "exact quote.",
    },
    "order_status": {
        "vi": "Mình chưa tra cứu được đơn hàng, nhưng nhân viên có thể kiểm tra giúp bạn.",
        "en": "I can't look up orders myself, but a colleague can check yours for you.",
    },
    "product_info": {
        "vi": "Nhân viên tư vấn có thể giới thiệu chi tiết dịch vụ phù hợp với bạn.",
        "en": "A colleague can tell you more about the treatment that suits you best.",
    },
    "not_understood": {
        "vi": "Xin lỗi, mình chưa hiểu ý bạn.",
        "en": "Sorry, I didn't quite understand that.",
    },
    "ask_which": {
        "vi": "Xin lỗi, mình chưa chắc đã hiểu đúng ý bạn. Bạn muốn {first} hay {second} ạ?",
        "en": "Sorry, I'm not sure I understood. Would you like to {first} or {second}?",
    },
    "still_not_understood": {
        "vi": "Xin lỗi, mình vẫn chưa hiểu ý bạn. Mình đã chuyển cuộc trò chuyện cho nhân viên "
        "tư vấn, bạn chờ một chút nhé!",
        "en": "Sorry, I still didn't get that. I've passed the conversation to a member of our "
        "staff, who will be with you shortly.",
    },
}


@dataclass(frozen=True)
class BotContext:
    """Everything the bot may know about one incoming message, gathered by the engine."""

    text: str
    customer_name: str | None
    is_returning: bool
    preferred_language: str | None
    offered_human: bool
    failed_turns: int
    # The NLU result when the caller already parsed the text (outside its database
    # transaction, e.g. with Rasa over HTTP); None: the bot parses with its built-in engine.
    parsed: ParseResult | None = None


@dataclass(frozen=True)
class BotDecision:
    """What the engine should do for one message: say these replies, maybe call a human."""

    replies: tuple[str, ...]
    language: str
    intent: str
    confidence: float
    understood: bool
    offer_human: bool
    handoff: bool
    # A dialogue (the complaint intake) already judged how upset the customer is: the
    # negative-sentiment trigger must not cut it short.
    sentiment_handled: bool = False
    # Why a dialogue hands off ("complaint"); None: the intent says it ("intent:<intent>").
    handoff_reason: str | None = None


@dataclass(frozen=True)
class _Turn:
    """One message as the bot sees it once NLU and language detection have run."""

    ctx: BotContext
    intent: str
    confidence: float
    language: str
    ranking: tuple[IntentScore, ...] = ()


class FirstBot:
    """Rule-based first line: answers what it safely can and is honest about the rest."""

    def __init__(
        self, *, nlu: BuiltinNLU, faq: FaqBook, business_name: str = "Omni Spa & Clinic"
    ) -> None:
        self._nlu = nlu
        self._faq = faq
        self._business = business_name

    def decide(self, ctx: BotContext) -> BotDecision:
        """Pick this turn's replies: strong social intents, then the FAQ, then other intents."""
        parsed = ctx.parsed if ctx.parsed is not None else self._nlu.parse(ctx.text)
        default = "en" if ctx.preferred_language == "en" else "vi"  # the bot speaks these two
        turn = _Turn(
            ctx=ctx,
            intent=parsed.intent.name,
            confidence=parsed.intent.confidence,
            language=detect_language(ctx.text, default=default),
            ranking=parsed.intent_ranking,
        )
        if turn.intent in _BEFORE_FAQ and turn.confidence >= STRONG:
            return self._by_intent(turn)
        found = self._faq.search(ctx.text)
        if found is None:
            return self._by_intent(turn)
        return _decide(
            turn,
            (found.entry.answer(turn.language),),
            intent=f"faq/{found.entry.id}",  # Rasa's retrieval-intent naming
            confidence=found.score,
            offer_human=found.entry.offer_human,
        )

    def _by_intent(self, turn: _Turn) -> BotDecision:
        """Answer from the NLU intent alone; ask back rather than act on a guess."""
        choices = _choices(turn)
        if choices:
            return self._ask_which(turn, choices)
        offered = turn.ctx.offered_human
        if turn.intent == "request_human" or (turn.intent == "affirm" and offered):
            return _decide(turn, (self._text("handoff", turn),), handoff=True)
        if turn.intent in ("affirm", "deny"):
            return _decide(turn, (self._text("decline" if offered else "ack", turn),))
        if turn.intent == "greet":
            return _decide(turn, (self._greeting(turn), self._text("help", turn)))
        if turn.intent in ("thank", "goodbye"):
            return _decide(turn, (self._text(turn.intent, turn),))
        if turn.intent in _OFFER_INTENTS:
            reply = f"{self._text(turn.intent, turn)} {self._text('offer', turn)}"
            return _decide(turn, (reply,), offer_human=True)
        return self._not_understood(turn)

    def _not_understood(self, turn: _Turn) -> BotDecision:
        """Say so honestly; the second miss in a row goes to a human."""
        if turn.ctx.failed_turns >= 1:
            reply = self._text("still_not_understood", turn)
            return _decide(turn, (reply,), understood=False, handoff=True)
        reply = f"{self._text('not_understood', turn)} {self._text('offer', turn)}"
        return _decide(turn, (reply,), understood=False, offer_human=True)

    def _ask_which(self, turn: _Turn, choices: tuple[str, str]) -> BotDecision:
        """Offer the two likeliest meanings; unsure twice in a row goes to a human as before."""
        if turn.ctx.failed_turns >= 1:
            return self._not_understood(turn)
        first, second = (_CHOICE_TEXTS[name][turn.language] for name in choices)
        reply = _TEXTS["ask_which"][turn.language].format(first=first, second=second)
        return _decide(turn, (reply,), understood=False)

    def _greeting(self, turn: _Turn) -> str:
        """Greet by name when known; welcome back a returning customer."""
        name = call_name(turn.ctx.customer_name)
        key = "greet_back" if turn.ctx.is_returning else "greet"
        return self._text(f"{key}_name" if name else key, turn, name=name or "")

    def handoff_text(self, language: str) -> str:
        """What the customer is told when a person takes over (any trigger)."""
        texts = _TEXTS["handoff"]
        return texts.get(language, texts["vi"]).format(business=self._business, name="")

    def _text(self, key: str, turn: _Turn, *, name: str = "") -> str:
        """One canned reply in the turn's language."""
        return _TEXTS[key][turn.language].format(business=self._business, name=name)


def _choices(turn: _Turn) -> tuple[str, str] | None:
    """The two intents to ask about, or None when the bot should act (or admit it is lost).

    Asked when the top intent would change something but is below ASK_BELOW, or when the
    top is out_of_scope but such an intent comes close. One candidate is paired with talking
    to a person; social intents (greet, thank, yes/no) are never worth a question.
    """
    if turn.intent in _CHOICE_TEXTS and turn.confidence >= ASK_BELOW:
        return None
    if turn.intent not in _CHOICE_TEXTS and turn.intent != OUT_OF_SCOPE:
        return None
    names = [turn.intent] if turn.intent in _CHOICE_TEXTS else []
    names += [
        score.name
        for score in turn.ranking
        if score.name in _CHOICE_TEXTS
        and score.confidence >= _CHOICE_FLOOR
        and score.name not in names
    ]
    names = names[:_MAX_CHOICES]
    if names == ["request_human"] or not names:
        return None  # nothing to choose between: act, or say it was not understood
    if len(names) == 1:
        names.append("request_human")
    return names[0], names[1]


def call_name(display_name: str | None) -> str | None:
    """The part of a display name people are greeted by, without guessing a gender."""
    words = (display_name or "").split()
    if not words or len(" ".join(words)) > 40:
        return None
    if len(words) > 1 and strip_diacritics(words[0]).lower() in _VI_FAMILY_NAMES:
        return words[-1]
    return words[0]


def _decide(
    turn: _Turn,
    replies: tuple[str, ...],
    *,
    intent: str | None = None,
    confidence: float | None = None,
    understood: bool = True,
    offer_human: bool = False,
    handoff: bool = False,
) -> BotDecision:
    """Build the decision, defaulting intent and confidence to the NLU's."""
    return BotDecision(
        replies=replies,
        language=turn.language,
        intent=intent or turn.intent,
        confidence=turn.confidence if confidence is None else confidence,
        understood=understood,
        offer_human=offer_human,
        handoff=handoff,
    )
