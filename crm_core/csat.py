"""The satisfaction survey sent on resolve, and reading the customer's 1-5 answer."""

from __future__ import annotations

import re
from datetime import timedelta

SURVEY = {
    "vi": "Cảm ơn bạn đã liên hệ! Bạn đánh giá cuộc trò chuyện này bao nhiêu điểm từ 1 đến 5 "
    "(5 là rất hài lòng)? Chỉ cần trả lời một con số.",
    "en": "Thanks for contacting us! How would you rate this conversation from 1 to 5 "
    "(5 = very satisfied)? Just reply with a number.",
}
THANKS = {
    "vi": "Cảm ơn bạn đã đánh giá! Ý kiến của bạn giúp chúng tôi phục vụ tốt hơn.",
    "en": "Thank you for your rating! It helps us serve you better.",
}
PENDING = "pending"
ANSWER_WINDOW = timedelta(hours=24)  # a number sent later is a new message, not a rating
# "4", "4/5", " 5 ", "5 sao", "5 stars", or only stars "⭐⭐⭐⭐".
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*(?:sao|stars?|điểm|diem)?\s*[.!]?\s*$", re.I)


def survey_text(language: str | None) -> str:
    return SURVEY.get(language or "vi", SURVEY["vi"])


def thanks_text(language: str | None) -> str:
    return THANKS.get(language or "vi", THANKS["vi"])


def parse_rating(text: str) -> int | None:
    """The 1-5 score a reply gives, or None when it is not an answer to the survey."""
    stars = text.strip()
    if stars and set(stars) <= {"⭐", "★"} and len(stars) <= 5:
        return len(stars)
    match = _RATING.match(text)
    return int(match.group(1)) if match else None
