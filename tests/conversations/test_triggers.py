"""Handoff triggers and business hours, as tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations.bot import BotDecision
from conversations.hours import BusinessHours
from conversations.triggers import after_hours_note, handoff_reason, negative

HOURS = BusinessHours.parse("mon-fri 08:00-18:00; sat 08:00-12:00", timezone="Asia/Ho_Chi_Minh")


def decision(
    intent: str = "faq/hours",
    *,
    handoff: bool = False,
    understood: bool = True,
    sentiment_handled: bool = False,
):
    return BotDecision(
        replies=("..",),
        language="vi",
        intent=intent,
        confidence=0.9,
        understood=understood,
        offer_human=False,
        handoff=handoff,
        sentiment_handled=sentiment_handled,
    )


@pytest.mark.parametrize(
    ("made", "text", "tags", "reason"),
    [
        (decision(), "giờ mở cửa", [], None),
        (decision("request_human", handoff=True), "gặp nhân viên", [], "intent:request_human"),
        (decision("out_of_scope", handoff=True, understood=False), "???", [], "not_understood"),
        # A complaint goes through intake (conversations/flows/complaint.py); only a severe
        # one hands off, as the dialogue's own handoff.
        (decision("complaint"), "tôi muốn khiếu nại", [], None),
        (decision("complaint", handoff=True), "dị ứng, sưng mặt", [], "intent:complaint"),
        (
            BotDecision(("..",), "vi", "complaint", 0.9, True, False, True, True, "complaint"),
            "dị ứng, sưng mặt",
            [],
            "complaint",
        ),
        (decision("complaint", sentiment_handled=True), "dịch vụ quá tệ", [], None),
        (decision("complaint", sentiment_handled=True), "quá tệ", ["vip"], "vip"),
        (decision(), "giờ mở cửa", ["VIP"], "vip"),
        (decision(), "dịch vụ quá tệ, thất vọng", [], "negative_sentiment"),
        (decision(), "dich vu qua te", [], "negative_sentiment"),
        (decision(), "this is the worst service", [], "negative_sentiment"),
    ],
)
def test_handoff_reason(made: BotDecision, text: str, tags: list[str], reason: str | None) -> None:
    assert handoff_reason(made, text=text, tags=tags) == reason


def test_negative_needs_whole_words() -> None:
    assert not negative("bạn tên gì")  # contains "te" inside a word
    assert negative("Tệ quá!")


@pytest.mark.parametrize(
    ("utc", "is_open", "opening"),
    [
        (datetime(2026, 11, 23, 3, 0, tzinfo=UTC), True, None),  # Mon 10:00 in Vietnam
        (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), False, "08:00 24/11"),  # Mon 19:00
        (datetime(2026, 11, 28, 6, 0, tzinfo=UTC), False, "08:00 30/11"),  # Sat 13:00 → Mon
        (datetime(2026, 11, 29, 3, 0, tzinfo=UTC), False, "08:00 30/11"),  # Sunday
    ],
)
def test_business_hours(utc: datetime, is_open: bool, opening: str | None) -> None:
    assert HOURS.is_open(utc) is is_open
    found = HOURS.next_opening(utc)
    assert (found.strftime("%H:%M %d/%m") if found else None) == opening
    note = after_hours_note(HOURS, utc, "en")
    assert (note is None) is is_open


def test_bad_hours_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="cannot read business hours"):
        BusinessHours.parse("weekdays 9-5", timezone="UTC")
    assert BusinessHours.parse("", timezone="UTC").is_open(datetime.now(UTC))
