"""Text normalisation shared by the NLU and the FAQ: Vietnamese with or without diacritics."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Chat shorthand, applied only to tokens typed without diacritics so that e.g. "hồng" (pink)
# never becomes "không". Ambiguous forms are left out on purpose: "m" (mình / mày / metre),
# "a"/"ah" (anh / particle ạ), "r" (rồi / English "are"), "ty" (tỷ, "công ty"), "u" (ừ / you).
_SHORTHAND: dict[str, str] = {
    "k": "khong",
    "ko": "khong",
    "kh": "khong",
    "hk": "khong",
    "hok": "khong",
    "hong": "khong",
    "khum": "khong",
    "mik": "minh",
    "mk": "minh",
    "mjk": "minh",
    "mh": "minh",
    "dc": "duoc",
    "bt": "biet",
    "j": "gi",
    "ns": "noi",
    "vs": "voi",
    "ntn": "nhu the nao",
    "bn": "bao nhieu",
    "bh": "bao gio",
    "h": "gio",
    "tg": "thoi gian",
    "sdt": "so dien thoai",
    "dt": "dien thoai",
    "lh": "lien he",
    "nv": "nhan vien",
    "ng": "nguoi",
    "sp": "san pham",
    "cx": "cung",
    "trc": "truoc",
    "e": "em",
    "cj": "chi",
    "tks": "thank",
    "thks": "thank",
    "thx": "thank",
    "tnx": "thank",
    "thanks": "thank",
    "oke": "ok",
    "okie": "ok",
    "oki": "ok",
    "okay": "ok",
    "okela": "ok",
    "okla": "ok",
    "z": "vay",
    "zay": "vay",
    "v": "vay",
    "thui": "thoi",
    "lun": "luon",
    "nhiu": "nhieu",
    "bnhiu": "bao nhieu",
    "bik": "biet",
    "bjk": "biet",
    "ms": "moi",
    "mn": "moi nguoi",
    "dk": "dang ky",
    "dky": "dang ky",
    "bs": "bac si",
    "dv": "dich vu",
    "qc": "quang cao",
    "nt": "nhan tin",
    "nc": "noi chuyen",
    "lm": "lam",
    "ib": "inbox",
    "uk": "u",
}
# "r" is "rồi" in Vietnamese chat but "are" in English shorthand: expanded only when the rest
# of the message is Vietnamese.
_SHORTHAND_IN_VIETNAMESE: dict[str, str] = {"r": "roi"}
# Shorthand that is itself written with a diacritic (đ), matched before stripping.
# "mún" must not fold to "mun" (acne), which is "mụn" without its marks.
_SHORTHAND_VI: dict[str, str] = {
    "đc": "duoc",
    "sđt": "so dien thoai",
    "đt": "dien thoai",
    "đk": "dang ky",
    "đky": "dang ky",
    "mún": "muon",
    "nhìu": "nhieu",
    "bít": "biet",
}

# Marks only Vietnamese uses among Latin-script chat languages: breve (ă), horn (ơ, ư),
# hook above (ả) and dot below (ạ). Acute, grave, tilde and circumflex also occur in French.
_VI_ONLY_MARKS = frozenset({"\u0306", "\u031b", "\u0309", "\u0323"})

# fmt: off
_VI_WORDS = frozenset(
    {
        "toi", "minh", "ban", "khong", "chao", "xin", "cam", "duoc", "muon", "gi", "nhe", "nha",
        "em", "anh", "chi", "bao", "nhieu", "oi", "vay", "roi", "lam", "sao", "cho", "hoi", "gia",
        "gio", "dau", "nao", "la", "voi", "nguoi", "nhan", "vien", "gap", "biet", "noi", "dat",
        "lich", "tu", "van", "da", "vang", "alo", "tam", "thoi", "hen", "mai", "nay", "hom",
        "ngay", "sang", "chieu", "di", "ve", "den", "bi", "giup", "dum", "mo", "cua", "nhu", "khi",
        "ak", "uh", "shop", "ad", "admin",
    }
)
# fmt: on
# fmt: off
_EN_WORDS = frozenset(
    {
        "hi", "hello", "hey", "the", "i", "im", "you", "your", "we", "our", "want", "need", "how",
        "what", "when", "where", "why", "who", "price", "prices", "cost", "much", "please",
        "thank", "yes", "not", "is", "are", "does", "could", "would", "my", "me", "to", "book",
        "booking", "appointment", "open", "opening", "hours", "talk", "human", "person", "agent",
        "staff", "with", "about", "there", "and", "of", "for", "bye", "goodbye", "good", "morning",
        "afternoon", "evening", "help", "order", "service", "services", "this", "that", "it",
        "have", "has", "be", "will", "speak", "someone", "real", "consultation", "tomorrow",
        "today", "get", "like",
    }
)
# fmt: on

# Words that carry no intent on their own: dropped before comparing token sets.
# fmt: off
FILLER_WORDS = frozenset(
    {
        "cho", "toi", "minh", "em", "anh", "chi", "ban", "oi", "a", "nhe", "nha", "vay", "ha",
        "thi", "la", "ma", "o", "ah", "ak", "shop", "ad", "admin", "i", "you", "me", "my", "your",
        "we", "our", "us", "the", "an", "to", "of", "please", "there", "is", "are", "am", "be",
        "it", "this", "that",
    }
)
# fmt: on

_PUNCTUATION = re.compile(r"[^\w\s]|_")
# The few emoji that are a whole answer on their own; every other symbol is dropped.
_EMOJI_WORDS = {"\U0001f44d": " ok "}  # thumbs up


def strip_diacritics(text: str) -> str:
    """Drop Vietnamese tone and vowel marks so "Đặt lịch" and "dat lich" compare equal."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def _expand(token: str) -> str:
    """Spell out one chat-shorthand token, leaving anything ambiguous alone."""
    if token in _SHORTHAND_VI:
        return _SHORTHAND_VI[token]
    if token.isascii() and token in _SHORTHAND:
        return _SHORTHAND[token]
    return strip_diacritics(token)


def normalize(text: str) -> str:
    """Reduce a chat message to lower-case ASCII-ish words so rules and examples match it."""
    lowered = unicodedata.normalize("NFC", text).lower()
    for emoji, word in _EMOJI_WORDS.items():
        lowered = lowered.replace(emoji, word)
    tokens = _PUNCTUATION.sub(" ", lowered).split()
    words = [_expand(token) for token in tokens]
    if _SHORTHAND_IN_VIETNAMESE.keys() & set(tokens) and _looks_vietnamese(tokens, words):
        words = [_SHORTHAND_IN_VIETNAMESE.get(word, word) for word in words]
    return " ".join(words)


def _looks_vietnamese(raw: list[str], words: list[str]) -> bool:
    """Whether a message has a Vietnamese mark or more Vietnamese than English words."""
    if any(not token.isascii() for token in raw):
        return True
    return sum(w in _VI_WORDS for w in words) > sum(w in _EN_WORDS for w in words)


def tokenize(text: str) -> list[str]:
    """Split a message into normalised words, the unit every matcher works on."""
    return normalize(text).split()


def stem(token: str) -> str:
    """Fold common English endings ("hours", "opening") so phrasings meet in one term."""
    # Vietnamese syllables never end in -s, -d or -ing, so this cannot damage them.
    if len(token) > 5 and token.endswith("ing"):
        return token[:-3]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith("ed"):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def content_terms(
    tokens: Iterable[str], *, stopwords: frozenset[str] = FILLER_WORDS
) -> frozenset[str]:
    """The meaningful, stemmed words of a message, for overlap scoring."""
    return frozenset(stem(token) for token in tokens if token not in stopwords)


def jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    """Share of words two texts have in common; 0 when either is empty."""
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _has_vietnamese_marks(text: str) -> tuple[bool, int]:
    """Whether a Vietnamese-only mark occurs, and how many words carry any diacritic."""
    if "đ" in text or "Đ" in text:
        return True, 1
    marked_words = 0
    for word in text.split():
        marks = {ch for ch in unicodedata.normalize("NFD", word) if unicodedata.combining(ch)}
        if marks & _VI_ONLY_MARKS:
            return True, 1
        marked_words += bool(marks)
    return False, marked_words


def detect_language(text: str, default: str = "vi") -> str:
    """Guess "vi" or "en" from marks and function words; unsure texts get the default."""
    decisive, vi_score = _has_vietnamese_marks(text)
    if decisive:
        return "vi"
    tokens = tokenize(text)
    vi_score += sum(token in _VI_WORDS for token in tokens)
    en_score = sum(token in _EN_WORDS for token in tokens)
    if vi_score > en_score:
        return "vi"
    if en_score > vi_score:
        return "en"
    return default
