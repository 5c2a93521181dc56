"""Dates and times in Vietnamese and English, resolved to the START of what the text denotes.

The conventions (issue 5) in short: every value is ISO-8601 in the configured zone; `grain` is
minute when minutes are written or for an offset of minutes/hours, hour for an hour or a part
of day, day for a day alone (00:00). Weeks start on Monday; a bare weekday is strictly after
today, "<weekday> này"/"this <weekday>" includes today, "next <weekday>" is in the next
calendar week; numeric dates are day/month; an hour 1-6 with no part of day is afternoon; a
time with no day is its next occurrence at or after now.

Patterns (`date_patterns`) find pieces; adjacent pieces ("9h" "sáng" "mai") join into one
expression when only connectors ("lúc", "at", ",") stand between them and they do not both
say the same thing (two days, two times).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from nlu.entities.date_patterns import pieces
from nlu.entities.date_pieces import Clock, Piece, Scan
from nlu.entities.date_words import PART_START_HOUR, STRONG, message_has_marks
from nlu.entities.folding import Folded
from nlu.entities.spans import Span

PRIORITY = 3
_LEADING_ON = re.compile(r"on\s+")
_CONNECTOR = re.compile(
    r"(?:[\s,]|-(?=\s)|\b(?:luc|vao|at|on|khoang|tam|around|about|by|in|the|of)\b)*"
)


def find(folded: Folded, *, now: datetime) -> list[Span]:
    """Date/time spans of the text, resolved against `now` (an aware datetime)."""
    scan = Scan(folded=folded, marked=message_has_marks(folded.original))
    spans = []
    for group in _join(_settle(pieces(scan)), folded.text):
        if max(piece.strength for piece in group) < STRONG:
            continue  # only ambiguous words ("sang", "toi") and nothing to anchor them
        resolved = _resolve(group, now)
        if resolved is None:
            continue
        value, grain = resolved
        first = group[0].start
        preposition = _LEADING_ON.match(folded.text, first)
        if preposition is not None:  # "on saturday": the preposition is not part of the date
            first = preposition.end()
        start, end = folded.span(first, group[-1].end)
        info = {"grain": grain}
        spans.append(Span("datetime", value.isoformat(), start, end, PRIORITY, 1.0, info))
    return spans


def _settle(found: list[Piece]) -> list[Piece]:
    """The longest pieces that do not overlap, in text order."""
    kept: list[Piece] = []
    for piece in sorted(found, key=lambda p: (-(p.end - p.start), p.start)):
        if all(piece.end <= other.start or other.end <= piece.start for other in kept):
            kept.append(piece)
    return sorted(kept, key=lambda p: p.start)


def _join(ordered: list[Piece], text: str) -> list[list[Piece]]:
    """Group neighbouring pieces that together make one expression."""
    groups: list[list[Piece]] = []
    for piece in ordered:
        if groups and _fits(groups[-1], piece, text):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return groups


def _fits(group: list[Piece], piece: Piece, text: str) -> bool:
    gap = text[group[-1].end : piece.start]
    if _CONNECTOR.fullmatch(gap) is None or len(gap) > 12:
        return False
    if piece.shift is not None or any(p.shift is not None for p in group):
        return False
    for name in ("day", "clock", "part"):
        if getattr(piece, name) is not None and any(getattr(p, name) is not None for p in group):
            return False
    return True


def _resolve(group: list[Piece], now: datetime) -> tuple[datetime, str] | None:
    """The instant a joined expression starts at, and its grain."""
    shift = next((p.shift for p in group if p.shift is not None), None)
    if shift is not None:
        return (now.astimezone(UTC) + shift).astimezone(now.tzinfo), "minute"
    day_rule = next((p.day for p in group if p.day is not None), None)
    clock = next((p.clock for p in group if p.clock is not None), None)
    part = next((p.part for p in group if p.part is not None), None)
    today = now.date()
    day = day_rule(today) if day_rule else None
    if day_rule is not None and day is None:
        return None
    if clock is None and part is None:
        assert day is not None
        return _at(day, 0, now), "day"
    if clock is not None:
        minutes = _minutes_of_day(clock, part)
        if minutes is None:
            return None
        grain = "minute" if clock.minutes_written else "hour"
    else:
        minutes, grain = PART_START_HOUR[str(part)] * 60, "hour"
    if day is not None:
        return _at(day, minutes, now), grain
    candidate = _at(today, minutes, now)
    return (candidate if candidate >= now else _at(today + timedelta(days=1), minutes, now)), grain


def _minutes_of_day(clock: Clock, part: str | None) -> int | None:
    """Minutes after midnight (may pass 24h: "12 giờ đêm" is the next day's 00:00)."""
    hour = _hour_24(clock.hour, clock.meridiem, part)
    if hour is None:
        return None
    return hour * 60 + clock.minute - clock.before


def _hour_24(hour: int, meridiem: str | None, part: str | None) -> int | None:
    """The conventions for reading an hour with its am/pm or part of day, or neither."""
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm":
        return hour if hour == 12 else hour + 12
    if hour == 0 or hour >= 13:
        return hour
    if part == "morning":
        return hour
    if part == "noon":
        return hour if hour >= 11 else hour + 12
    if part == "afternoon":
        return hour if hour == 12 else hour + 12
    if part in ("evening", "night"):
        return 24 if hour == 12 else hour + 12
    return hour + 12 if hour <= 6 else hour  # business hours: "3 giờ" is 15:00


def _at(day: date, minutes: int, now: datetime) -> datetime:
    """Local wall time `minutes` after the start of `day`, in now's zone."""
    extra, minutes = divmod(minutes, 24 * 60)
    wall = datetime.combine(day + timedelta(days=extra), time(minutes // 60, minutes % 60))
    return wall.replace(tzinfo=now.tzinfo)
