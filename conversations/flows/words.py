"""Small word lists for the dialogues' yes/no/stop answers, compared without diacritics.

The NLU decides most turns; these catch the short answers it is shaky on ("xác nhận" reads
as opt-out to it) and the words that end a dialogue ("thôi", "stop it") before any intent.
"""

from __future__ import annotations

import re

from nlu.text import normalize, strip_diacritics

_FILLER = {"a", "nhe", "nha", "nhen", "di", "ha", "ah", "oi", "please", "thanks", "ban", "em"}
_STOP = {
    "thoi",
    "huy",
    "huy bo",
    "bo qua",
    "dung lai",
    "thoi khong can",
    "thoi khong dat nua",
    "khong dat nua",
    "khong can nua",
    "thoi bo di",
    "thoi khong",
    "stop",
    "stop it",
    "cancel",
    "cancel it",
    "never mind",
    "nevermind",
    "forget it",
    "quit",
}
_YES = {
    "co",
    "xac nhan",
    "dong y",
    "chot",
    "dung roi",
    "ok",
    "oke",
    "okay",
    "yes",
    "yep",
    "confirm",
    "u",
    "uh",
    "vang",
    "da",
    "duoc",
    "dat di",
}
_NO = {"khong", "ko", "no", "nope", "chua", "khong phai", "sai roi"}
_NUMBER = re.compile(r"^\s*(?:so\s+|số\s+|#|no\.?\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def plain(text: str) -> str:
    """Lower-case, no marks, no punctuation or polite fillers: "Thôi nhé!" → "thoi"."""
    words = strip_diacritics(normalize(text)).split()
    while words and words[-1] in _FILLER:
        words.pop()
    while words and words[0] in _FILLER:
        words.pop(0)
    return " ".join(words)


def is_stop(text: str) -> bool:
    return plain(text) in _STOP


def is_yes(text: str, intent: str) -> bool:
    said = plain(text)
    if said in _NO or said.split()[:1] == ["khong"]:
        return False
    return intent == "affirm" or said in _YES or said.startswith(("xac nhan", "dong y"))


def is_no(text: str, intent: str) -> bool:
    said = plain(text)
    return said in _NO or (intent == "deny" and said not in _YES)


def number(text: str) -> int | None:
    """A bare choice number, "2" or "số 2"; None otherwise."""
    match = _NUMBER.match(strip_diacritics(text))
    return int(match.group(1)) if match else None
