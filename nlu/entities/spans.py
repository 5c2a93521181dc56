"""The span every extractor produces, and how overlapping candidates are settled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """One entity found in a text; `priority` breaks overlaps (lower wins, then longer)."""

    entity: str
    value: str
    start: int
    end: int
    priority: int
    confidence: float = 1.0
    additional_info: dict[str, Any] | None = field(default=None)

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def to_rasa(self) -> dict[str, Any]:
        """The entity dict Rasa's `/model/parse` returns."""
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence": self.confidence,
            "additional_info": dict(self.additional_info) if self.additional_info else None,
        }


def settle(candidates: Iterable[Span]) -> list[Span]:
    """Keep the best non-overlapping spans: by priority, then the longest, then the earliest."""
    ordered = sorted(candidates, key=lambda s: (s.priority, -(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in ordered:
        if not any(span.overlaps(other) for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def overlaps_any(start: int, end: int, blocked: Iterable[tuple[int, int]]) -> bool:
    """Whether [start, end) touches any of the blocked ranges."""
    return any(start < b_end and b_start < end for b_start, b_end in blocked)
