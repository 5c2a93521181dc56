"""Order ids, in the forms customers type them.

Recognised (case- and accent-insensitive):
- a hash and a code: "#DH12345", "#123456", "#A-10023";
- a shop prefix and digits on its own: "DH12345", "ĐH-12345", "ORD12345", "OD12345", "SO12345";
- a code after an order word: "đơn DH12345", "đơn hàng số 123456", "mã đơn hàng: 123456",
  "mã vận đơn 8812345", "order A-10023", "order #A-10023", "order no. 556677", "order id XY12".
A code is letters/digits with at most one inner dash and at least four digits. The value is
upper-cased, without the "#", with "Đ" written "D" ("ĐH12345" → "DH12345").
"""

from __future__ import annotations

import re

from nlu.entities.folding import Folded
from nlu.entities.spans import Span

PRIORITY = 1
_CODE = r"(?=(?:[a-z]*-?)?\d{4})[a-z]{0,5}-?\d{4,15}[a-z]?"
_ORDER_WORDS = (
    r"(?:ma\s+van\s+don|ma\s+don(?:\s+hang)?|don\s+hang|don|order(?:\s+(?:id|number|no\.?))?)"
)
_FILLER = r"(?:\s*(?:so|la|:|#|no\.?|number|id|cua\s+minh|cua\s+toi|cua\s+em)\s*)*"
_AFTER_WORD = re.compile(rf"\b{_ORDER_WORDS}{_FILLER}\s*#?(?P<code>{_CODE})(?![\w-])")
_HASHED = re.compile(rf"(?<![\w#])#(?P<code>{_CODE})(?![\w-])")
_PREFIXED = re.compile(r"(?<![\w#-])(?P<code>(?:dh|ord|od|so)-?\d{4,15})(?![\w-])")


def find(folded: Folded) -> list[Span]:
    spans: dict[tuple[int, int], Span] = {}
    for pattern in (_AFTER_WORD, _HASHED, _PREFIXED):
        for match in pattern.finditer(folded.text):
            start, end = folded.span(match.start("code"), match.end("code"))
            if folded.original[start - 1 : start] == "#":
                start -= 1  # the span covers what was typed, the value drops the "#"
            value = folded.text[match.start("code") : match.end("code")].upper()
            spans.setdefault((start, end), Span("order_id", value, start, end, PRIORITY))
    return list(spans.values())
