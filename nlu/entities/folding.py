"""An accent-free, lower-case view of a text that still knows where each character came from.

Patterns match the folded view ("thu 6 tuan sau" for "Thứ 6 tuần sau") while entity offsets
must point into the original text, so every folded character keeps its original index.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_SPECIAL = {"đ": "d", "Đ": "d"}


def fold_char(char: str) -> str:
    """One character without marks, lower-cased; a lone combining mark folds to nothing."""
    if char in _SPECIAL:
        return _SPECIAL[char]
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    lowered = base.lower()
    return lowered if len(lowered) == len(base) else base


def fold(text: str) -> str:
    """The folded string alone (for catalogue names and other short phrases)."""
    return "".join(fold_char(char) for char in text)


@dataclass(frozen=True)
class Folded:
    """`text` folded; `origin[i]` is the original index of folded character i."""

    original: str
    text: str
    origin: tuple[int, ...]

    @classmethod
    def of(cls, original: str) -> Folded:
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(original):
            for folded in fold_char(char):
                chars.append(folded)
                origin.append(index)
        return cls(original=original, text="".join(chars), origin=tuple(origin))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the folded [start, end), marks after the last char kept."""
        if start >= end:
            position = self.origin[start] if start < len(self.origin) else len(self.original)
            return position, position
        last = self.origin[end - 1] + 1
        while last < len(self.original) and unicodedata.combining(self.original[last]):
            last += 1
        return self.origin[start], last

    def source(self, start: int, end: int) -> str:
        """The original characters behind folded [start, end)."""
        first, last = self.span(start, end)
        return self.original[first:last]
