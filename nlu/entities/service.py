"""Catalogue services by name or alias, ignoring case and Vietnamese diacritics."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from nlu.entities.folding import Folded, fold
from nlu.entities.spans import Span

PRIORITY = 4


class ServiceMatcher:
    """One alternation of every alias, longest first, so "massage body" beats "massage"."""

    def __init__(self, services: Mapping[str, Sequence[str]]) -> None:
        self._by_alias: dict[str, str] = {}
        for key, names in services.items():
            for name in (key.replace("_", " "), *names):
                alias = " ".join(re.split(r"[\s\-]+", fold(name).strip()))
                if alias:
                    self._by_alias.setdefault(alias, key)
        aliases = sorted(self._by_alias, key=len, reverse=True)
        words = [r"[\s\-]+".join(map(re.escape, alias.split())) for alias in aliases]
        self._pattern = re.compile(rf"(?<!\w)(?:{'|'.join(words)})(?!\w)") if words else None

    def find(self, folded: Folded) -> list[Span]:
        if self._pattern is None:
            return []
        spans = []
        for match in self._pattern.finditer(folded.text):
            alias = " ".join(re.split(r"[\s\-]+", match.group(0)))
            start, end = folded.span(match.start(), match.end())
            spans.append(Span("service", self._by_alias[alias], start, end, PRIORITY))
        return spans
