"""How serious a complaint is, from its wording and from who is complaining.

Rules, in order (the first wording rule that matches sets the base level):

1. **urgent** — safety, health or legal threats: "dị ứng", "bỏng", "sưng", "nổi mẩn",
   "nhiễm trùng", "cấp cứu", "kiện", "luật sư", "allergic reaction", "burn", "swollen",
   "hospital", "lawyer", "sue". Someone may be hurt, or a lawsuit is coming: 2 h by default.
2. **high** — money or strong anger: "hoàn tiền", "lừa đảo", "bồi thường", "bức xúc",
   "thất vọng", "refund", "scam", "furious", "unacceptable".
3. **low** — the customer says it is minor: "góp ý", "không gấp", "lỗi nhỏ", "suggestion",
   "not urgent", "minor".
4. otherwise **normal**.

Then the customer raises a non-urgent level by one step each (never above high, never down):
a high-value customer (lifetime value ≥ `HIGH_VALUE_LIFETIME`, VND) and a repeat complainer
(another ticket still open). Only the wording makes a ticket urgent.

Vietnamese is matched twice: with its diacritics as typed, and folded ("di ung"). Folded
forms are ambiguous ("bong" is bỏng, bông or bóng; "kien" is kiện or ý kiến), so the folded
patterns are the phrases that are not ("bi bong", "khoi kien"), while a lone "kiện" counts
only with its marks (and not in "kiện hàng", a parcel).
"""

from __future__ import annotations

import re
import unicodedata

from crm_core.text import strip_marks as strip_diacritics

SEVERITIES = ("urgent", "high", "normal", "low")
HIGH_VALUE_LIFETIME = 10_000_000  # VND: a customer who spent this much gets a faster answer
_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def _words(*alternatives: str) -> re.Pattern[str]:
    """One pattern matching any of the phrases as whole words."""
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


_URGENT_MARKED = _words(
    "dị ứng", "bỏng", "phỏng", "sưng", "nổi mẩn", "mẩn đỏ", "ngứa rát", "nhiễm trùng",
    "chảy máu", "ngộ độc", "khó thở", "cấp cứu", "nhập viện", "bệnh viện", "luật sư",
    "t(?:òa|oà) án", "công an", r"kiện(?! hàng)",
)  # fmt: skip
_URGENT_FOLDED = _words(
    "di ung", "bi bong", "bi phong", "bong rat", "vet bong", "bong nang", "bi sung", "sung do",
    "sung tay", "sung mat", "sung het", "noi man", "man do", "ngua rat",
    "nhiem trung", "chay mau", "ngo doc", "kho tho", "cap cuu", "nhap vien", "benh vien",
    "khoi kien", "se kien", "di kien", "kien ra toa", "luat su", "toa an", "cong an",
    "allerg(?:y|ic|ies)", "reaction", "burn(?:s|ed|t|ing)?", "swollen", "swelling", "rash",
    "infect(?:ion|ed)", "bleeding", "hospital", "emergency", "poison(?:ed|ing)?",
    "injur(?:y|ed|ies)", "lawyer", "attorney", "sue", "suing", "lawsuit", "legal action",
    "police",
)  # fmt: skip
_HIGH_MARKED = _words(
    "hoàn tiền", "trả lại tiền", "đòi tiền", "lừa đảo", "lừa", "bức xúc", "quá tệ", "tồi tệ",
    "thất vọng", "không chấp nhận được", "tức giận", "bực mình", "phẫn nộ", "đền bù",
    "bồi thường", "mất tiền", "trừ tiền", "tẩy chay", "bóc phốt",
)  # fmt: skip
_HIGH_FOLDED = _words(
    "hoan tien", "tra lai tien", "lua dao", "buc xuc", "qua te", "toi te", "that vong",
    "khong chap nhan duoc", "tuc gian", "buc minh", "phan no", "den bu", "boi thuong",
    "mat tien", "tru tien", "tay chay", "boc phot",
    "refund(?:ed)?", "money back", "scam(?:med)?", "fraud", "cheat(?:ed)?", "ripped off",
    "furious", "outrageous", "unacceptable", "terrible", "worst", "angry", "compensation",
    "chargeback",
)  # fmt: skip
_LOW_MARKED = _words("góp ý", "không gấp", "lỗi nhỏ", "chuyện nhỏ", "đề xuất", "chút xíu")
_LOW_FOLDED = _words(
    "gop y", "khong gap", "loi nho", "van de nho", "chuyen nho", "de xuat", "chut xiu",
    "minor", "small issue", "suggestion", "not urgent", "no rush", "typo", "feedback",
)  # fmt: skip


def severity_of(text: str, *, lifetime_value: int, open_tickets: int) -> str:
    """urgent, high, normal or low for this wording and customer (rules in the module doc)."""
    marked = unicodedata.normalize("NFC", text).lower()
    folded = strip_diacritics(marked)
    if _URGENT_MARKED.search(marked) or _URGENT_FOLDED.search(folded):
        return "urgent"
    if _HIGH_MARKED.search(marked) or _HIGH_FOLDED.search(folded):
        level = "high"
    elif _LOW_MARKED.search(marked) or _LOW_FOLDED.search(folded):
        level = "low"
    else:
        level = "normal"
    steps = int(lifetime_value >= HIGH_VALUE_LIFETIME) + int(open_tickets > 0)
    rank = min(_RANK[level] + steps, _RANK["high"])
    return next(name for name, value in _RANK.items() if value == rank)


def is_severity(value: str) -> bool:
    return value in _RANK
