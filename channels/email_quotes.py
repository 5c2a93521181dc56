"""Separate what the customer just wrote from the quoted history and signature below it."""

from __future__ import annotations

import re

# Attribution lines clients put above the quoted message (research/channels.md §5.4).
# Gmail wraps long ones over two lines, so each line is also tried joined with the next.
_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"On\b.{4,}\bwrote\s*:"  # Gmail/Apple Mail/Thunderbird, English
    r"|Vào\b.{4,}\bđã viết\s*:"  # Gmail, Vietnamese: "Vào Th 6, ... lúc 09:14 ... đã viết:"
    r"|Le\b.{4,}\ba écrit\s*:"  # French
    r"|Am\b.{4,}\bschrieb\b.*:"  # German
    r"|El\b.{4,}\bescribió\s*:"  # Spanish
    r")\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")  # Outlook on the web draws a line above "From:"
# Outlook's header block; Vietnamese Outlook labels are from observed mail ⚠ not a spec.
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|Từ)\s*:\*?\s+\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|To|Subject|Đã gửi|Ngày|Đến|Chủ đề)\s*:", re.IGNORECASE
)
# RFC 3676 §4.3: the signature separator is "-- " (dash dash space); many clients drop the space.
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE_FOOTER = re.compile(r"^\s*(?:Sent from my \w.*|Get Outlook for \w.*)$", re.IGNORECASE)


def strip_reply(text: str) -> str:
    """The new part of a reply: cut at the history or signature, drop '>' quoted lines.

    When nothing would be left, the text is kept whole: showing too much beats losing what
    the customer wrote under a line we mistook for a separator.
    """
    lines = text.split("\n")
    cut = _history_start(lines)
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    while kept and (not kept[-1].strip() or _MOBILE_FOOTER.match(kept[-1])):
        kept.pop()
    stripped = "\n".join(kept).strip()
    return stripped or text.strip()


def _history_start(lines: list[str]) -> int:
    """Index of the first line of quoted history or signature (len(lines) when none)."""
    for index, line in enumerate(lines):
        if _SIGNATURE.match(line) or _ORIGINAL_MESSAGE.match(line):
            return index
        if _ATTRIBUTION.match(line) or _wrapped_attribution(lines, index):
            return index
        if _HEADER_FROM.match(line) and _looks_like_header_block(lines, index):
            rule_above = index > 0 and _OUTLOOK_RULE.match(lines[index - 1])
            return index - 1 if rule_above else index
    return len(lines)


def _wrapped_attribution(lines: list[str], index: int) -> bool:
    """Gmail wraps a long attribution mid-address; a finished sentence is not one."""
    line = lines[index].rstrip()
    if index + 1 >= len(lines) or not line or line.lstrip().startswith(">"):
        return False
    if line.endswith((".", "!", "?")):
        return False
    return bool(_ATTRIBUTION.match(f"{line} {lines[index + 1].strip()}"))


def _looks_like_header_block(lines: list[str], start: int) -> bool:
    """A "From:" line starts quoted history only when more header lines follow right after."""
    following = [line for line in lines[start + 1 : start + 4] if line.strip()]
    return sum(bool(_HEADER_NEXT.match(line)) for line in following) >= 2
