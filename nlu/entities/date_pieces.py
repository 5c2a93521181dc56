"""The pieces a date/time expression is made of, and the calendar rules that resolve a day.

A piece is what one pattern recognised: a day ("thứ 6 tuần sau"), a clock time ("3 giờ"), a
part of day ("chiều"), or a shift from now ("30 phút nữa"). Pieces next to each other join
into one expression; `dates.py` does that and turns the result into an instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from nlu.entities.folding import Folded

# Given today, the day a piece means (None when it names no real day, e.g. 31/2).
DayRule = Callable[[date], date | None]


@dataclass(frozen=True)
class Clock:
    """A time as written: "10 giờ kém 15" is hour 10, before 15, minutes written."""

    hour: int
    minute: int = 0
    before: int = 0
    minutes_written: bool = False
    meridiem: str | None = None  # "am" / "pm"


@dataclass(frozen=True)
class Piece:
    """One recognised fragment, at folded [start, end); `strength` from date_words."""

    start: int
    end: int
    strength: int
    day: DayRule | None = None
    clock: Clock | None = None
    part: str | None = None
    shift: timedelta | None = None  # "in 2 hours": nothing else joins an offset from now


@dataclass(frozen=True)
class Scan:
    """The text being scanned and whether its writer uses diacritics."""

    folded: Folded
    marked: bool


# --- calendar rules (weeks start on Monday) -------------------------------------------------


def monday_of(day: date, weeks_ahead: int = 0) -> date:
    return day - timedelta(days=day.weekday()) + timedelta(weeks=weeks_ahead)


def shift_days(days: int) -> DayRule:
    return lambda today: today + timedelta(days=days)


def weekday_after_today(weekday: int) -> DayRule:
    """A bare weekday: its next occurrence strictly after today."""
    return lambda today: today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def weekday_from_today(weekday: int) -> DayRule:
    """'<weekday> này' / 'this <weekday>': the nearest occurrence, today included."""
    return lambda today: today + timedelta(days=(weekday - today.weekday()) % 7)


def weekday_in_week(weekday: int, weeks_ahead: int) -> DayRule:
    """That weekday in this (0), next (1) or the following (2) calendar week."""
    return lambda today: monday_of(today, weeks_ahead) + timedelta(days=weekday)


def first_of_month(months_ahead: int) -> DayRule:
    return lambda today: _month_start(today, months_ahead)


def day_of_month(day: int, months_ahead: int | None) -> DayRule:
    """'ngày 15' (the nearest on or after today) or 'ngày 15 tháng sau' (that month)."""

    def rule(today: date) -> date | None:
        if months_ahead is not None:
            return _safe_date(_month_start(today, months_ahead), day)
        for ahead in range(13):
            found = _safe_date(_month_start(today, ahead), day)
            if found is not None and found >= today:
                return found
        return None

    return rule


def calendar_date(day: int, month: int, year: int | None) -> DayRule:
    """'5/1', '15 tháng 12', 'Dec 24': a year when written, else the nearest on or after today."""

    def rule(today: date) -> date | None:
        if year is not None:
            return _make_date(year, month, day)
        for candidate_year in range(today.year, today.year + 5):
            found = _make_date(candidate_year, month, day)
            if found is not None and found >= today:
                return found
        return None

    return rule


def _month_start(today: date, months_ahead: int) -> date:
    index = today.year * 12 + today.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def _safe_date(month_start: date, day: int) -> date | None:
    return _make_date(month_start.year, month_start.month, day)


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
