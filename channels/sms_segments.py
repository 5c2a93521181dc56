"""SMS segment maths (GSM-7 vs UCS-2): what a text costs before we hand it to the carrier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# 3GPP TS 23.038 default alphabet (ESC 0x1B left out: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each character is sent as ESC + code, so it costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")

# https://www.twilio.com/docs/glossary/what-sms-character-limit (research §3.6): a concatenated
# part loses room to the user data header, so 160 → 153 septets and 70 → 67 UCS-2 units.
LIMITS: dict[str, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
# Twilio refuses a Body longer than this (research §3.6).
MAX_BODY_CHARS = 1600

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentCount:
    """How a text is encoded and into how many billed SMS segments it splits."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (one Vietnamese diacritic breaks it)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def count_segments(text: str) -> SegmentCount:
    """Count segments the way a handset reassembles them: no part splits an escape or a pair."""
    encoding: Encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    costs = [_cost(char, encoding) for char in text]
    units = sum(costs)
    single, part = LIMITS[encoding]
    if units == 0:
        return SegmentCount(encoding, 0, 0)
    if units <= single:
        return SegmentCount(encoding, units, 1)
    return SegmentCount(encoding, units, _fill(costs, part))


def _cost(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # astral characters (emoji) are a surrogate pair


def _fill(costs: list[int], part: int) -> int:
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:  # an ESC pair or surrogate pair never straddles two parts
            segments, used = segments + 1, 0
        used += cost
    return segments


def utf16_units(text: str) -> int:
    """Length as Twilio's limits count it (astral characters take two units)."""
    return len(text.encode("utf-16-le")) // 2


def split_body(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Cut an over-long text into Bodies Twilio accepts, preferring line, then word, breaks."""
    parts: list[str] = []
    rest = text
    while utf16_units(rest) > limit:
        cut = _fit(rest, limit)
        window = rest[:cut]
        for separator in ("\n", " "):
            brk = window.rfind(separator)
            if brk > cut // 2:  # only a break in the second half: no tiny parts
                cut = brk
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def _fit(text: str, limit: int) -> int:
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)
