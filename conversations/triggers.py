"""When a conversation goes to a human even though the bot could answer, and what to say."""

from __future__ import annotations

from datetime import datetime

from conversations.bot import BotDecision
from conversations.hours import BusinessHours
from nlu.text import normalize

# Words of an upset customer, compared without diacritics ("tệ" and "te" alike).
_NEGATIVE = (
    "qua te",
    "te qua",
    "that vong",
    "buc minh",
    "buc qua",
    "lua dao",
    "toi te",
    "kem qua",
    "chan qua",
    "khong hai long",
    "hoan tien",
    "boc phot",
    "terrible",
    "awful",
    "worst",
    "disappointed",
    "angry",
    "scam",
    "refund",
    "unacceptable",
    "ridiculous",
)
VIP_TAG = "vip"


def negative(text: str) -> bool:
    """A small, transparent lexicon; good enough to route, not to score."""
    plain = f" {normalize(text)} "
    return any(f" {phrase} " in plain for phrase in _NEGATIVE)


def handoff_reason(decision: BotDecision, *, text: str, tags: list[str]) -> str | None:
    """Why this turn hands off (None: the bot keeps the conversation).

    A complaint is not a trigger by itself: the intake dialogue takes it and hands off at once
    only when it is severe (conversations.flows.complaint).
    """
    if decision.handoff:
        if decision.handoff_reason:
            return decision.handoff_reason
        return f"intent:{decision.intent}" if decision.understood else "not_understood"
    if VIP_TAG in {str(tag).lower() for tag in tags}:
        return "vip"
    if negative(text) and not decision.sentiment_handled:
        return "negative_sentiment"
    return None


def after_hours_note(hours: BusinessHours, now: datetime, language: str) -> str | None:
    """Outside business hours, tell the customer when someone will answer."""
    opening = hours.next_opening(now)
    if opening is None:
        return None
    when = opening.strftime("%H:%M %d/%m")
    if language == "en":
        return f"Our team is away right now; someone will answer from {when}."
    return f"Hiện nhân viên đang ngoài giờ làm việc; bạn sẽ được trả lời từ {when} ạ."
