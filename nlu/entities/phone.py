"""Phone numbers in E.164 via `phonenumbers`, minus the numbers that only look like phones.

`PhoneNumberMatcher` alone accepts too much in chat: a price ("1.500.000đ"), a bank account
after "stk", a tax code after "MST" or in its 10+3 branch form, an order id or a date. Those
ranges are found first and any phone candidate touching one is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from nlu.entities.folding import Folded
from nlu.entities.spans import Span, overlaps_any

PRIORITY = 2
_DIGITS = r"\d[\d .\-]{4,30}\d"
# Money: digits (with thousand separators or decimals) followed or preceded by a currency word.
_PRICE = re.compile(
    r"(?:(?:\$|vnd|usd|gia|gia\s+la|price)\s*)\d[\d.,\s]*\d?"
    r"|\d[\d.,]*\s*(?:d\b|đ|vnd|vnđ|dong|usd|\$|k\b|nghin|ngan|tr\b|trieu|ty\b|m\b|million)",
)
# Words that announce an account, tax or identity number; the digits after them are not a phone.
_NOT_PHONE_WORDS = (
    r"stk|so\s+tai\s+khoan|tai\s+khoan|tk|account(?:\s+(?:number|no\.?))?|acct|a/c|iban"
    r"|ngan\s+hang|bank|vietcombank|vcb|techcombank|tcb|bidv|vietinbank|agribank|acb|mbbank|mb"
    r"|tpbank|vpbank|sacombank|mst|ma\s+so\s+thue|tax\s+(?:code|id|number)|vat"
    r"|cccd|cmnd|can\s+cuoc|passport|ho\s+chieu"
)
_ANNOUNCED = re.compile(
    rf"\b(?:{_NOT_PHONE_WORDS})\b(?:\s*(?:la|so|:|#|no\.?|number|cua\s+\w+))*\s*"
    rf"(?P<digits>{_DIGITS}|\d{{5,}})"
)
# A Vietnamese branch tax code: ten digits, a dash, three digits.
_TAX_BRANCH = re.compile(r"(?<!\d)\d{10}\s*-\s*\d{3}(?!\d)")


def find(text: str, *, region: str, blocked: Iterable[tuple[int, int]] = ()) -> list[Span]:
    """Valid phone numbers not inside a blocked range or a non-phone number."""
    excluded = [*blocked, *not_phone_ranges(text)]
    spans = []
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        if overlaps_any(match.start, match.end, excluded):
            continue
        value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        spans.append(Span("phone", value, match.start, match.end, PRIORITY))
    return spans


def not_phone_ranges(text: str) -> list[tuple[int, int]]:
    """Original-text ranges of prices, announced account/tax/id numbers and tax codes."""
    folded = Folded.of(text)
    ranges = [folded.span(m.start(), m.end()) for m in _PRICE.finditer(folded.text)]
    ranges += [
        folded.span(m.start("digits"), m.end("digits")) for m in _ANNOUNCED.finditer(folded.text)
    ]
    ranges += [folded.span(m.start(), m.end()) for m in _TAX_BRANCH.finditer(folded.text)]
    return ranges
