"""Patterns of the date/time grammar over the folded text, each building one Piece.

Vietnamese and English side by side, matched without diacritics ("thu 6" = "thứ 6"). Words
that are also other words ("sang", "tôi", "một") are checked against how they were typed;
see `date_words.spelling`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from nlu.entities import date_pieces as cal
from nlu.entities.date_pieces import Clock, Piece, Scan
from nlu.entities.date_words import (
    COUNT_WORD_PATTERN,
    COUNT_WORDS,
    EN_GREETING_BEFORE,
    EN_HOUR_PATTERN,
    EN_HOURS,
    EN_WEEKDAY_PATTERN,
    EN_WEEKDAYS,
    GREETING_AFTER,
    GREETING_BEFORE,
    MONTH_PATTERN,
    MONTHS,
    MOVE_WORDS,
    NOT_TOMORROW_BEFORE,
    ORDINAL_CONTEXT,
    PART_OTHER_AFTER,
    PART_OTHER_BEFORE,
    PARTS,
    PRONOUN_CONTEXT,
    REJECT,
    STRONG,
    VI_HOUR_PATTERN,
    VI_HOURS,
    VI_WEEKDAY_NAMES,
    WEAK,
    previous_word,
    spelling,
)

_B = r"(?<!\w)"  # word start
_E = r"(?!\w)"  # word end
_NUM_START = r"(?<![\w:/.,])"  # a number not glued to another number or word
_WEEK_WORDS = r"tuan\s+sau\s+nua|tuan\s+sau|tuan\s+toi|tuan\s+nay"
_AMPM = r"(?P<ap>a\.?m\.?|p\.?m\.?)(?!\w)"


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str], Scan], Piece | None]


def _weeks_ahead(words: str) -> int:
    words = " ".join(words.split())
    if words in ("tuan sau nua", "the week after next", "week after next", "after next"):
        return 2
    return 0 if words in ("tuan nay", "this week") else 1


def _word(scan: Scan, match: re.Match[str], group: str) -> int:
    return spelling(scan.folded, match.start(group), match.end(group), marked=scan.marked)


def _piece(match: re.Match[str], strength: int = STRONG, **fields: object) -> Piece:
    return Piece(start=match.start(), end=match.end(), strength=strength, **fields)  # type: ignore[arg-type]


# --- offsets from now ------------------------------------------------------------------------

_UNITS = {
    "phut": "minutes", "p": "minutes", "minute": "minutes", "minutes": "minutes",
    "min": "minutes", "mins": "minutes", "tieng": "hours", "gio": "hours", "h": "hours",
    "hour": "hours", "hours": "hours", "hr": "hours", "hrs": "hours", "ngay": "days",
    "day": "days", "days": "days", "tuan": "weeks", "week": "weeks", "weeks": "weeks",
}  # fmt: skip


def _count(text: str) -> float | None:
    text = " ".join(text.split())
    if text.isdigit():
        return float(text)
    if text in ("nua", "half an", "half a"):
        return 0.5
    return float(COUNT_WORDS[text]) if text in COUNT_WORDS else None


def _offset(match: re.Match[str], scan: Scan) -> Piece | None:
    count = _count(match["n"])
    if count is None or count > 1000:
        return None
    if match["half"]:
        count += 0.5
    unit = _UNITS[match["unit"]]
    if unit in ("days", "weeks"):
        days = int(count * (7 if unit == "weeks" else 1))
        return _piece(match, day=cal.shift_days(days))
    return _piece(match, shift=timedelta(**{unit: count}))


_VI_OFFSET = re.compile(
    rf"{_B}(?:(?:sau|trong)\s+)?(?P<n>\d{{1,3}}|{COUNT_WORD_PATTERN}|nua)\s*"
    rf"(?P<unit>phut|p|tieng|gio|h|ngay|tuan)(?:\s+(?P<half>ruoi))?\s+nua{_E}"
)
_VI_AFTER = re.compile(
    rf"{_B}sau\s+(?P<n>\d{{1,3}})\s*(?P<unit>phut|tieng|ngay|tuan)(?P<half>){_E}"
)
_EN_OFFSET = re.compile(
    rf"{_B}in\s+(?P<n>\d{{1,3}}|half\s+an?|{COUNT_WORD_PATTERN})\s*"
    rf"(?P<unit>minutes?|mins?|hours?|hrs?|h|days?|weeks?)(?P<half>\s+and\s+a\s+half)?{_E}"
    rf"|{_B}(?P<n2>\d{{1,3}})\s*(?P<unit2>minutes?|mins?|hours?|hrs?|days?|weeks?)\s+"
    rf"(?:from\s+now|later){_E}"
)


def _en_offset(match: re.Match[str], scan: Scan) -> Piece | None:
    number, unit = match["n"] or match["n2"], match["unit"] or match["unit2"]
    count = _count(number)
    if count is None:
        return None
    if match["half"]:
        count += 0.5
    kind = _UNITS[unit]
    if kind in ("days", "weeks"):
        return _piece(match, day=cal.shift_days(int(count * (7 if kind == "weeks" else 1))))
    return _piece(match, shift=timedelta(**{kind: count}))


# --- days ------------------------------------------------------------------------------------

_TODAY = re.compile(rf"{_B}(?:hom\s+nay|today){_E}")
_NAY = re.compile(rf"{_B}nay{_E}")
_TOMORROW = re.compile(
    rf"{_B}(?:ngay\s+mai|(?P<mai>mai)|tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow|tmorrow){_E}"
)
_AFTER_TOMORROW = re.compile(
    rf"{_B}(?:ngay\s+(?P<after>mot)|ngay\s+kia|(?P<bare>mot)|(?:the\s+)?day\s+after\s+tomorrow"
    rf"|overmorrow){_E}"
)


def _today(match: re.Match[str], scan: Scan) -> Piece:
    return _piece(match, day=cal.shift_days(0))


def _nay(match: re.Match[str], scan: Scan) -> Piece | None:
    """'nay' alone is today at the start of a message ("nay shop mở không"); else it needs
    a neighbour ("chiều nay"). Typed 'này' it is "this"/"hey", never today on its own."""
    source = scan.folded.source(match.start(), match.end()).lower()
    at_start = not scan.folded.text[: match.start()].strip()
    strength = STRONG if at_start and source == "nay" else WEAK
    return _piece(match, strength, day=cal.shift_days(0))


def _tomorrow(match: re.Match[str], scan: Scan) -> Piece | None:
    if match["mai"]:
        if _word(scan, match, "mai") == REJECT:
            return None  # "mãi"
        first, _ = scan.folded.span(match.start("mai"), match.end("mai"))
        before = scan.folded.original[:first].rstrip()
        if scan.folded.original[first].isupper() and before and before[-1] not in ".!?":
            return None  # "chị Mai": a name, not tomorrow
        if previous_word(scan.folded, match.start("mai")) in NOT_TOMORROW_BEFORE:
            return None  # "khuyen mai" (khuyến mãi typed bare), "hoa mai"
        if scan.folded.original[first].isupper() and _next_is_capitalised(scan, match.end()):
            return None  # "Mai Anh đây": a full name
    return _piece(match, day=cal.shift_days(1))


def _next_is_capitalised(scan: Scan, end: int) -> bool:
    """Whether the word after folded offset `end` starts with a capital letter as typed."""
    rest = scan.folded.text[end:]
    stripped = rest.lstrip()
    if not stripped or len(rest) == len(stripped):
        return False
    start, _ = scan.folded.span(
        end + len(rest) - len(stripped), end + len(rest) - len(stripped) + 1
    )
    return scan.folded.original[start].isupper()


def _after_tomorrow(match: re.Match[str], scan: Scan) -> Piece | None:
    if match["after"] and _word(scan, match, "after") == REJECT:
        return None  # "ngày một"
    strength = _word(scan, match, "bare") if match["bare"] else STRONG
    if strength == REJECT:
        return None
    return _piece(match, strength, day=cal.shift_days(2))


# Weeks, weekends, months.
_WEEK = re.compile(
    rf"{_B}(?P<w>{_WEEK_WORDS}|this\s+week|next\s+week|the\s+week\s+after\s+next){_E}"
)
_WEEK_START = re.compile(rf"{_B}dau\s+(?P<w>{_WEEK_WORDS}){_E}")
_WEEKEND = re.compile(
    rf"{_B}(?:cuoi\s+tuan(?:\s+(?P<vi>sau\s+nua|sau|toi|nay))?"
    rf"|(?:(?P<en>this|next)\s+)?(?:the\s+)?weekend){_E}"
)
_MONTH = re.compile(
    rf"{_B}(?:(?:dau\s+)?thang\s+(?P<vi>sau|toi|nay)|(?P<en>next|this)\s+month){_E}"
)


def _week(match: re.Match[str], scan: Scan) -> Piece:
    return _piece(match, day=cal.weekday_in_week(0, _weeks_ahead(match["w"])))


def _weekend(match: re.Match[str], scan: Scan) -> Piece:
    qualifier = " ".join((match["vi"] or match["en"] or "nay").split())
    ahead = {"nay": 0, "this": 0, "sau nua": 2}.get(qualifier, 1)
    return _piece(match, day=cal.weekday_in_week(5, ahead))


def _month(match: re.Match[str], scan: Scan) -> Piece:
    ahead = 0 if (match["vi"] or match["en"]) in ("nay", "this") else 1
    return _piece(match, day=cal.first_of_month(ahead))


# Weekdays.
_VI_WEEKDAY = re.compile(
    rf"{_B}(?:(?P<pre>{_WEEK_WORDS})\s+)?"
    rf"(?:(?P<thu>thu)\s*(?P<num>[2-7])|(?P<thu2>thu)\s+(?P<name>hai|ba|tu|nam|sau|bay)"
    rf"|t(?P<t>[2-7])|(?P<sun>chu\s+nhat|cn))"
    rf"(?:\s+(?P<post>{_WEEK_WORDS}|nay|toi))?{_E}"
)
_EN_WEEKDAY = re.compile(
    rf"{_B}(?:(?P<q>this\s+coming|coming|next|this|on)\s+)?(?P<wd>{EN_WEEKDAY_PATTERN})"
    rf"(?:\s+(?P<post>next\s+week|this\s+week|(?:the\s+)?week\s+after\s+next|after\s+next))?{_E}"
)


def _vi_weekday(match: re.Match[str], scan: Scan) -> Piece | None:
    if match["num"] or match["t"]:
        weekday = int(match["num"] or match["t"]) - 2
    elif match["name"]:
        if _word(scan, match, "name") == REJECT:
            return None  # "thứ tự"
        weekday = VI_WEEKDAY_NAMES[match["name"]]
    else:
        weekday = 6
    ordinal = previous_word(scan.folded, match.start()) in ORDINAL_CONTEXT
    if (match["thu"] or match["thu2"]) and not match["pre"] and ordinal:
        return None  # "lần thứ 2"
    end = match.end()
    post = match["post"]
    if post == "toi" and _word(scan, match, "post") == STRONG:
        post, end = None, match.start("post")  # "thứ 6 tối": the evening, left to _PART
        end = len(scan.folded.text[:end].rstrip())
    week = match["pre"] or (post if post and post.startswith("tuan") else None)
    if week:
        rule = cal.weekday_in_week(weekday, _weeks_ahead(week))
    elif post == "nay":
        rule = cal.weekday_from_today(weekday)
    else:
        rule = cal.weekday_after_today(weekday)
    return Piece(start=match.start(), end=end, strength=STRONG, day=rule)


def _en_weekday(match: re.Match[str], scan: Scan) -> Piece | None:
    word, qualifier = match["wd"], " ".join((match["q"] or "").split())
    weekday = EN_WEEKDAYS[word]
    if match["post"]:
        rule = cal.weekday_in_week(weekday, _weeks_ahead(match["post"]))
    elif qualifier == "next":
        rule = cal.weekday_in_week(weekday, 1)
    elif qualifier in ("this", "this coming"):
        rule = cal.weekday_from_today(weekday)
    else:
        rule = cal.weekday_after_today(weekday)
    # "mon", "sat", "sun" alone are too often other words ("món ăn").
    short = len(word) <= 5 and not word.endswith("day")
    strength = WEAK if short and not qualifier else STRONG
    return _piece(match, strength, day=rule)


# Calendar dates and days of the month.
_VI_DAY_OF_MONTH = re.compile(
    rf"{_B}(?P<lead>ngay|mung|mong)\s+(?P<d>\d{{1,2}})"
    rf"(?:(?P<sep>[/.-])(?P<m>\d{{1,2}})(?:(?P=sep)(?P<y>\d{{4}}|\d{{2}}))?"
    rf"|\s+thang\s+(?P<mw>\d{{1,2}})(?:\s+nam\s+(?P<yw>\d{{4}}))?"
    rf"|\s+thang\s+(?P<mq>sau|toi|nay))?(?![\w/]|[.,]\d)"
)
_NUMERIC_DATE = re.compile(
    rf"{_NUM_START}(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})(?:/(?P<y>\d{{4}}|\d{{2}}))?(?![\w/]|[.,]\d)"
    rf"|{_NUM_START}(?P<d2>\d{{1,2}})(?P<sep>[.-])(?P<m2>\d{{1,2}})(?P=sep)(?P<y2>\d{{4}})"
    rf"(?![\w.-]|,\d)"
)
_VI_DAY_MONTH = re.compile(
    rf"{_NUM_START}(?P<d>\d{{1,2}})\s+thang\s+(?P<m>\d{{1,2}})(?:\s+nam\s+(?P<y>\d{{4}}))?{_E}"
)
_EN_DATE = re.compile(
    rf"{_B}(?:on\s+)?the\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)(?:\s+of\s+(?P<mn>{MONTH_PATTERN}))?{_E}"
    rf"|{_B}(?P<mn2>{MONTH_PATTERN})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"(?:,?\s+(?P<y2>\d{{4}}))?{_E}"
    rf"|{_NUM_START}(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn3>{MONTH_PATTERN})"
    rf"(?:,?\s+(?P<y3>\d{{4}}))?{_E}"
)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    return int(text) + (2000 if len(text) == 2 else 0)


def _date(match: re.Match[str], day: int, month: int | None, year: int | None) -> Piece | None:
    if not 1 <= day <= 31 or (month is not None and not 1 <= month <= 12):
        return None
    if month is None:
        return _piece(match, day=cal.day_of_month(day, None))
    return _piece(match, day=cal.calendar_date(day, month, year))


def _vi_day_of_month(match: re.Match[str], scan: Scan) -> Piece | None:
    if _word(scan, match, "lead") == REJECT:
        return None  # "mong 5" in a message typed with marks: "hope", not "mồng"
    day = int(match["d"])
    if match["mq"]:
        if not 1 <= day <= 31:
            return None
        ahead = 0 if match["mq"] == "nay" else 1
        return _piece(match, day=cal.day_of_month(day, ahead))
    month = match["m"] or match["mw"]
    strength = _word(scan, match, "lead")
    piece = _date(match, day, int(month) if month else None, _year(match["y"] or match["yw"]))
    return None if piece is None else Piece(**{**piece.__dict__, "strength": strength})


def _numeric_date(match: re.Match[str], scan: Scan) -> Piece | None:
    day, month = match["d"] or match["d2"], match["m"] or match["m2"]
    if match.group(0) == "24/7":
        return None  # "open 24/7"
    return _date(match, int(day), int(month), _year(match["y"] or match["y2"]))


def _vi_day_month(match: re.Match[str], scan: Scan) -> Piece | None:
    return _date(match, int(match["d"]), int(match["m"]), _year(match["y"]))


def _en_date(match: re.Match[str], scan: Scan) -> Piece | None:
    day = int(match["d"] or match["d2"] or match["d3"])
    name = match["mn"] or match["mn2"] or match["mn3"]
    if name:
        group = "mn" if match["mn"] else "mn2" if match["mn2"] else "mn3"
        if not scan.folded.source(match.start(group), match.end(group)).isascii():
            return None  # "5 máy" is five machines, not 5 May
    return _date(match, day, MONTHS[name] if name else None, _year(match["y2"] or match["y3"]))


# --- clock times -----------------------------------------------------------------------------

_COLON = re.compile(rf"{_NUM_START}(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})(?!\d|:\d)(?:\s*{_AMPM})?")
_VI_CLOCK = re.compile(
    rf"{_NUM_START}(?P<h>\d{{1,2}})(?P<unit>\s*h|g|\s*gio)"
    rf"(?:\s*(?P<mi>\d{{2}})(?:\s*(?:phut|p))?|\s*(?P<mi1>\d)\s*(?:phut|p)"
    rf"|\s+(?P<half>ruoi)|\s+kem\s+(?P<kem>\d{{1,2}})(?:\s*(?:phut|p))?)?{_E}"
)
_VI_WORD_CLOCK = re.compile(
    rf"{_B}(?P<hw>{VI_HOUR_PATTERN})\s+gio"
    rf"(?:\s+(?P<half>ruoi)|\s+kem\s+(?P<kem>\d{{1,2}})|\s+(?P<mi>\d{{2}})(?:\s*phut)?)?{_E}"
)
_HALF_OR_BEFORE = re.compile(
    rf"{_NUM_START}(?P<h>\d{{1,2}})\s+(?:(?P<half>ruoi)|kem\s+(?P<kem>\d{{1,2}}))(?!\w)"
)
_AT_HOUR = re.compile(
    rf"{_B}(?:luc|at|@)\s*(?P<h>\d{{1,2}}|{EN_HOUR_PATTERN})(?![\w:/.,])"
    r"(?!\s*(?:h|g|gio|am|pm|a\.m|p\.m|o'?\s*clock|nguoi|cai|ngay|thang|phut|tieng|ruoi|kem"
    r"|people|persons?|pax|minutes?|mins?|hours?|days?|weeks?)(?!\w))"
)
_EN_CLOCK = re.compile(
    rf"{_NUM_START}(?P<h>\d{{1,2}}|{EN_HOUR_PATTERN})(?:[:.](?P<mi>\d{{2}}))?\s*{_AMPM}"
    rf"|{_B}(?P<h2>\d{{1,2}}|{EN_HOUR_PATTERN})\s*o'?\s*clock{_E}"
)
_EN_PAST_TO = re.compile(
    rf"{_B}(?:(?P<k>half|quarter|a\s+quarter)|(?P<n>\d{{1,2}})(?:\s+(?:minutes?|mins?))?)"
    rf"\s+(?P<dir>past|after|to|before)\s+(?P<h>\d{{1,2}}|{EN_HOUR_PATTERN}){_E}"
)
_MIDNIGHT = re.compile(rf"{_B}midnight{_E}")
_RANGE = re.compile(
    rf"{_NUM_START}(?P<h>\d{{1,2}})(?:\s*(?:h|g|gio))?\s*[-–]\s*(?P<h2>\d{{1,2}})"
    rf"(?:\s*(?:h|g|gio){_E}|\s*{_AMPM})"
)


def _hour(text: str) -> int:
    text = " ".join(text.split())
    return int(text) if text.isdigit() else {**VI_HOURS, **EN_HOURS}[text]


def _meridiem(text: str | None) -> str | None:
    return None if not text else ("am" if text.startswith("a") else "pm")


def _clock_piece(match: re.Match[str], clock: Clock, strength: int = STRONG) -> Piece | None:
    if clock.hour > 23 or clock.minute > 59 or clock.before > 59:
        return None
    if clock.meridiem and clock.hour > 12:
        return None
    return _piece(match, strength, clock=clock)


def _colon(match: re.Match[str], scan: Scan) -> Piece | None:
    clock = Clock(
        hour=int(match["h"]),
        minute=int(match["mi"]),
        minutes_written=True,
        meridiem=_meridiem(match["ap"]),
    )
    return _clock_piece(match, clock)


def _vi_clock(match: re.Match[str], scan: Scan) -> Piece | None:
    minute = match["mi"] or match["mi1"]
    clock = Clock(
        hour=int(match["h"]),
        minute=30 if match["half"] else int(minute or 0),
        before=int(match["kem"] or 0),
        minutes_written=bool(minute or match["half"] or match["kem"]),
    )
    return _clock_piece(match, clock)


def _vi_word_clock(match: re.Match[str], scan: Scan) -> Piece | None:
    word = " ".join(match["hw"].split())
    strength = _word(scan, match, "hw") if word in ("nam", "sau") else STRONG
    if word == "bay":
        source = scan.folded.source(match.start("hw"), match.end("hw")).lower()
        strength = STRONG if source == "bảy" else REJECT  # bare "bay gio" is "bây giờ", now
    if strength == REJECT:
        return None
    clock = Clock(
        hour=VI_HOURS[word],
        minute=30 if match["half"] else int(match["mi"] or 0),
        before=int(match["kem"] or 0),
        minutes_written=bool(match["mi"] or match["half"] or match["kem"]),
    )
    return _clock_piece(match, clock, strength)


def _half_or_before(match: re.Match[str], scan: Scan) -> Piece | None:
    clock = Clock(
        hour=int(match["h"]),
        minute=30 if match["half"] else 0,
        before=int(match["kem"] or 0),
        minutes_written=True,
    )
    return _clock_piece(match, clock)


def _range(match: re.Match[str], scan: Scan) -> Piece | None:
    """ "2-3h chiều", "2h-3h", "9-10am": the range starts at its first hour."""
    first, last = int(match["h"]), int(match["h2"])
    if not first < last <= 23:
        return None
    clock = Clock(hour=first, meridiem=_meridiem(match["ap"]))
    return _clock_piece(match, clock)


def _at_hour(match: re.Match[str], scan: Scan) -> Piece | None:
    piece = _clock_piece(match, Clock(hour=_hour(match["h"])))
    if piece is None:
        return None
    return Piece(start=match.start("h"), end=piece.end, strength=STRONG, clock=piece.clock)


def _en_clock(match: re.Match[str], scan: Scan) -> Piece | None:
    if match["h2"]:
        return _clock_piece(match, Clock(hour=_hour(match["h2"])))
    clock = Clock(
        hour=_hour(match["h"]),
        minute=int(match["mi"] or 0),
        minutes_written=bool(match["mi"]),
        meridiem=_meridiem(match["ap"]),
    )
    return _clock_piece(match, clock)


def _en_past_to(match: re.Match[str], scan: Scan) -> Piece | None:
    kind = " ".join((match["k"] or "").split())
    minutes = 30 if kind == "half" else 15 if kind else int(match["n"])
    hour = _hour(match["h"])
    if match["dir"] in ("to", "before"):
        clock = Clock(hour=hour, before=minutes, minutes_written=True)
    else:
        clock = Clock(hour=hour, minute=minutes, minutes_written=True)
    return _clock_piece(match, clock)


def _midnight(match: re.Match[str], scan: Scan) -> Piece:
    return _piece(match, clock=Clock(hour=0))


# --- parts of the day ------------------------------------------------------------------------

_VI_PART = re.compile(rf"{_B}(?P<buoi>buoi\s+)?(?P<p>sang|trua|chieu|toi|dem){_E}")
_EN_PART = re.compile(
    rf"{_B}(?:(?P<this>this)\s+|in\s+the\s+|at\s+)?(?P<p>morning|afternoon|evening|night|noon"
    rf"|midday){_E}|{_B}(?P<tonight>tonight|tonite|tonigh){_E}"
)


def _vi_part(match: re.Match[str], scan: Scan) -> Piece | None:
    word = match["p"]
    strength = _word(scan, match, "p")
    before = previous_word(scan.folded, match.start())
    if strength == REJECT or (word == "sang" and before in MOVE_WORDS):
        return None
    if word == "sang" and before in ("lich", "hen") and strength == WEAK:
        return None  # "dời lịch sang mai": over to tomorrow
    after = scan.folded.text[match.end() :].split()[:1]
    pronoun = not before or before in PRONOUN_CONTEXT
    if word == "toi" and strength == WEAK and pronoun and after != ["nay"]:
        return None  # "toi muon ...": the pronoun ("toi nay" is still tonight)
    if before in GREETING_BEFORE or _next_words(scan, match.end()) & GREETING_AFTER:
        return None  # "chào buổi chiều", "buổi tối vui vẻ": a greeting, not a time
    if (
        before in PART_OTHER_BEFORE.get(word, ())
        or after
        and after[0] in PART_OTHER_AFTER.get(word, ())
    ):
        return None  # "sáng tạo", "chiều cao", "tối ưu", "ánh sáng": other words
    if match["buoi"]:
        strength = STRONG  # "buổi tối" can only be the evening
    return _piece(match, strength, part=PARTS[word])


def _next_words(scan: Scan, end: int) -> set[str]:
    """The next one and two folded words after `end` ("vui", "vui ve")."""
    words = [w.strip(",.;:!?") for w in scan.folded.text[end:].split()[:2]]
    return {" ".join(words[:1]), " ".join(words[:2])}


def _en_part(match: re.Match[str], scan: Scan) -> Piece | None:
    if match["tonight"]:
        return _piece(match, part="evening", day=cal.shift_days(0))
    if previous_word(scan.folded, match.start()) in EN_GREETING_BEFORE:
        return None  # "good morning", "have a nice evening" are greetings
    day = cal.shift_days(0) if match["this"] else None
    return _piece(match, part=PARTS[match["p"]], day=day)


RULES: tuple[Rule, ...] = (
    Rule(_VI_OFFSET, _offset),
    Rule(_VI_AFTER, _offset),
    Rule(_EN_OFFSET, _en_offset),
    Rule(_TODAY, _today),
    Rule(_NAY, _nay),
    Rule(_TOMORROW, _tomorrow),
    Rule(_AFTER_TOMORROW, _after_tomorrow),
    Rule(_WEEK, _week),
    Rule(_WEEK_START, _week),
    Rule(_WEEKEND, _weekend),
    Rule(_MONTH, _month),
    Rule(_VI_WEEKDAY, _vi_weekday),
    Rule(_EN_WEEKDAY, _en_weekday),
    Rule(_VI_DAY_OF_MONTH, _vi_day_of_month),
    Rule(_NUMERIC_DATE, _numeric_date),
    Rule(_VI_DAY_MONTH, _vi_day_month),
    Rule(_EN_DATE, _en_date),
    Rule(_COLON, _colon),
    Rule(_VI_CLOCK, _vi_clock),
    Rule(_VI_WORD_CLOCK, _vi_word_clock),
    Rule(_HALF_OR_BEFORE, _half_or_before),
    Rule(_AT_HOUR, _at_hour),
    Rule(_EN_CLOCK, _en_clock),
    Rule(_EN_PAST_TO, _en_past_to),
    Rule(_MIDNIGHT, _midnight),
    Rule(_RANGE, _range),
    Rule(_VI_PART, _vi_part),
    Rule(_EN_PART, _en_part),
)


def pieces(scan: Scan) -> list[Piece]:
    """Every piece any rule finds; overlaps are settled by the caller."""
    found = []
    for rule in RULES:
        for match in rule.pattern.finditer(scan.folded.text):
            piece = rule.build(match, scan)
            if piece is not None and piece.end > piece.start:
                found.append(piece)
    return found
