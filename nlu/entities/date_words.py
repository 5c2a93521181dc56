"""Word lists of the date/time grammar, in folded form (lower-case, no diacritics)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from nlu.entities.folding import Folded

# Hours spelled out: "hai giờ chiều", "at three". ("bảy giờ" needs its marks: bare it is
# "bây giờ", now; "tư" is left out: "từ giờ" is "from now on".)
VI_HOURS: dict[str, int] = {
    "mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8,
    "chin": 9, "muoi": 10, "muoi mot": 11, "muoi hai": 12,
}  # fmt: skip
EN_HOURS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of phrases, longest first, any whitespace between their words."""
    return "|".join(w.replace(" ", r"\s+") for w in sorted(words, key=len, reverse=True))


VI_HOUR_PATTERN = alternation(VI_HOURS)
EN_HOUR_PATTERN = alternation(EN_HOURS)

# Counts in offsets: "in an hour", "hai ngày nữa".
COUNT_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "ten": 10, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "muoi": 10,
}  # fmt: skip
COUNT_WORD_PATTERN = alternation(COUNT_WORDS)

VI_WEEKDAY_NAMES: dict[str, int] = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
EN_WEEKDAYS: dict[str, int] = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5,
    "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
EN_WEEKDAY_PATTERN = alternation(EN_WEEKDAYS)

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
MONTH_PATTERN = alternation(MONTHS)

# Part-of-day words → the canonical part and the hour it means on its own.
PARTS: dict[str, str] = {
    "sang": "morning", "morning": "morning",
    "trua": "noon", "noon": "noon", "midday": "noon",
    "chieu": "afternoon", "afternoon": "afternoon",
    "toi": "evening", "evening": "evening", "tonight": "evening",
    "dem": "night", "night": "night",
}  # fmt: skip
PART_START_HOUR: dict[str, int] = {
    "morning": 8, "noon": 12, "afternoon": 13, "evening": 18, "night": 22,
}  # fmt: skip

# Folded words that are also other Vietnamese words: the spellings that mean the date word,
# and what a bare spelling is worth. "other": bare it is a different word ("sang" = over to,
# "nam" = south), so bare in a message typed with marks it is rejected, weak otherwise.
# WEAK: bare it could be either ("toi" = tôi/tối). STRONG: bare it can only be the date word.
_OTHER = -1
SPELLINGS: dict[str, tuple[frozenset[str], int]] = {
    "sang": (frozenset({"sáng"}), _OTHER),
    "nam": (frozenset({"năm"}), _OTHER),
    "sau": (frozenset({"sáu"}), _OTHER),
    "bay": (frozenset({"bảy"}), _OTHER),
    "toi": (frozenset({"tối"}), 1),
    "dem": (frozenset({"đêm"}), 1),
    "mot": (frozenset({"mốt"}), 1),
    "tu": (frozenset({"tư"}), 1),
    "chieu": (frozenset({"chiều"}), 2),
    "trua": (frozenset({"trưa"}), 2),
    "mai": (frozenset({"mai"}), 2),
    "mong": (frozenset({"mồng"}), _OTHER),
    "mung": (frozenset({"mùng"}), 2),
}
# Words before "tôi/toi" that make it the pronoun, not the evening.
PRONOUN_CONTEXT = frozenset({"va", "voi", "cho", "la", "ma", "thi", "ca", "nhung", "cua", "ban"})
# Words before "sang" that make it "over to" ("dời lịch sang mai"), not the morning.
MOVE_WORDS = frozenset({"chuyen", "doi", "dich", "lui", "qua", "doi lich", "chuyen lich"})
# Words before "thứ N" that make it an ordinal ("lần thứ 2"), not a weekday.
ORDINAL_CONTEXT = frozenset(
    {"lan", "hang", "xep", "dung", "nguoi", "cai", "con", "buoc", "phan", "tang", "so", "ngay"}
)

# Words before bare "mai" that make it another word: "khuyen mai" (khuyến mãi typed without
# marks), "hoa mai"/"cay mai"/"canh mai" (the apricot blossom).
NOT_TOMORROW_BEFORE = frozenset({"khuyen", "hoa", "cay", "canh", "goc"})
# A part of day said as a greeting: "chào buổi chiều", "chúc buổi tối vui vẻ", "good morning".
GREETING_BEFORE = frozenset({"chao", "chuc"})
GREETING_AFTER = frozenset({"vui ve", "tot lanh", "an lanh", "vui", "nhe nhang"})
EN_GREETING_BEFORE = frozenset({"good", "nice", "lovely", "great", "pleasant"})
# Compounds where a part-of-day word means something else (folded): "sáng tạo" (creative),
# "chiều cao" (height), "tối ưu" (optimal), "ánh sáng" (light), "nuông chiều" (to spoil).
PART_OTHER_AFTER: dict[str, frozenset[str]] = {
    "sang": frozenset({"tao", "sua", "suot", "kien", "lap", "choi", "bong", "ruc", "tac", "loa"}),
    "chieu": frozenset({"cao", "dai", "rong", "sau", "chuong", "long", "khach", "y", "theo"}),
    "toi": frozenset({"uu", "da", "thieu", "gian", "tam", "om", "mat", "nghia"}),
}
PART_OTHER_BEFORE: dict[str, frozenset[str]] = {
    "sang": frozenset({"anh", "chieu", "phat", "toa", "lam"}),
    "chieu": frozenset({"nuong", "mot", "hai", "chieu"}),
    "toi": frozenset({"bong", "toi"}),
}

STRONG, WEAK, REJECT = 2, 1, 0


def message_has_marks(original: str) -> bool:
    """Whether the writer types Vietnamese diacritics at all."""
    if "đ" in original or "Đ" in original:
        return True
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", original))


def spelling(folded: Folded, start: int, end: int, *, marked: bool) -> int:
    """How much a possibly ambiguous word at folded [start, end) counts as its date meaning."""
    word = folded.text[start:end]
    if word not in SPELLINGS:
        return STRONG
    accepted, bare = SPELLINGS[word]
    source = unicodedata.normalize("NFC", folded.source(start, end)).lower()
    if source in accepted:
        return STRONG
    if source != word:
        return REJECT  # other marks: "tôi", "một", "mãi", "thứ tự"
    if bare == _OTHER:
        return REJECT if marked else WEAK
    return bare


def previous_word(folded: Folded, start: int) -> str:
    """The folded word just before `start` (empty at the beginning of the text)."""
    words = folded.text[:start].split()
    return words[-1].strip(",.;:!?") if words else ""
