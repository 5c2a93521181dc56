"""Frequently asked questions the bot can answer on its own, matched by word overlap.

The entries live in the `faq_entries` table (see `conversations.faq_store`); the YAML format
here is what `omnicrm faq import` reads and what the first start seeds the table with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nlu.text import FILLER_WORDS, content_terms, jaccard, tokenize

DEFAULT_THRESHOLD = 0.62
# Words that frame a question rather than say what it is about ("có … không", "how do i").
# fmt: off
QUESTION_WORDS = FILLER_WORDS | frozenset(
    {
        "co", "khong", "gi", "nao", "sao", "lam", "the", "hoi", "xin", "biet", "muon", "can",
        "duoc", "nhu", "a", "vay", "khi", "cac", "nhung", "ve", "de", "phai", "nhi", "oi", "chao",
        "ben", "hi", "hello", "hey", "what", "how", "do", "does", "could", "would", "will", "any",
        "about", "tell", "know", "want", "need",
    }
)
# fmt: on


@dataclass(frozen=True)
class FaqEntry:
    """One question the business answers the same way every time, in each language."""

    id: str
    questions: dict[str, list[str]]
    answers: dict[str, str]
    offer_human: bool = False

    def answer(self, language: str) -> str:
        """The answer in the customer's language, else Vietnamese, else whatever exists."""
        return (
            self.answers.get(language)
            or self.answers.get("vi")
            or next(iter(self.answers.values()))
        )


@dataclass(frozen=True)
class FaqMatch:
    """The best entry for a message and how well it matched, in [0, 1]."""

    entry: FaqEntry
    score: float


@dataclass(frozen=True)
class _Question:
    """One phrasing reduced to the words that say what it asks about."""

    entry: FaqEntry
    terms: frozenset[str] = field(repr=False)


def default_faq_path() -> Path:
    """The demo business's FAQ shipped with the package."""
    return Path(str(resources.files("conversations").joinpath("faq.yml")))


class FaqBook:
    """All FAQ entries, with their phrasings pre-normalised for fast matching.

    The bot keeps one FaqBook for its lifetime; the knowledge base swaps its contents with
    `replace_entries` when entries change, so answers follow the database without a restart.
    """

    def __init__(
        self, entries: Iterable[FaqEntry], *, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        self._threshold = threshold
        self.replace_entries(entries)

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        return self._state[0]

    def replace_entries(self, entries: Iterable[FaqEntry]) -> None:
        """Swap in a new set of entries in one assignment (a search never sees half of it)."""
        fresh = tuple(entries)
        questions = tuple(
            _Question(entry=entry, terms=terms)
            for entry in fresh
            for phrasings in entry.questions.values()
            for text in phrasings
            if (terms := _terms(text))
        )
        self._state: tuple[tuple[FaqEntry, ...], tuple[_Question, ...]] = (fresh, questions)

    @classmethod
    def load(cls, path: Path | None = None, *, threshold: float = DEFAULT_THRESHOLD) -> FaqBook:
        """Read a FAQ YAML file; without a path, the packaged demo FAQ."""
        return cls(read_entries(path), threshold=threshold)

    def match(self, text: str) -> FaqEntry | None:
        """The entry a message asks about, or None when nothing matches well enough."""
        found = self.search(text)
        return found.entry if found else None

    def search(self, text: str) -> FaqMatch | None:
        """Like `match`, with the score, for callers that log or compare confidence."""
        terms = _terms(text)
        if not terms:
            return None
        best: FaqMatch | None = None
        for question in self._state[1]:
            score = _score(terms, question.terms)
            if score >= self._threshold and (best is None or score > best.score):
                best = FaqMatch(entry=question.entry, score=round(score, 4))
        return best


def read_entries(path: Path | None = None) -> list[FaqEntry]:
    """The entries of a FAQ YAML file (the packaged one without a path); ValueError if bad."""
    source = path or default_faq_path()
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ValueError(f"{source}: expected a mapping with an `entries` list")
    entries = [_entry(raw, source=source) for raw in data["entries"]]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ValueError(f"{source}: entry {entry.id!r} appears twice")
        seen.add(entry.id)
    return entries


def _terms(text: str) -> frozenset[str]:
    """The topic words of a message or phrasing, diacritics and shorthand folded away."""
    return content_terms(tokenize(text), stopwords=QUESTION_WORDS)


def _score(message: frozenset[str], question: frozenset[str]) -> float:
    """Mostly overlap, partly coverage of the phrasing, so a few extra words cost little."""
    # A one-word phrasing ("hotline") must not match every long message that mentions the word.
    coverage = len(message & question) / max(len(question), 2)
    return 0.6 * jaccard(message, question) + 0.4 * coverage


def _entry(raw: Any, *, source: Path) -> FaqEntry:
    """Validate one YAML entry into a FaqEntry, naming the file and id on error."""
    if not isinstance(raw, dict) or not (raw.get("id") or raw.get("key")):
        raise ValueError(f"{source}: every entry needs an id")
    key = str(raw.get("id") or raw.get("key"))
    questions = {
        str(lang): [str(q) for q in qs] for lang, qs in (raw.get("questions") or {}).items()
    }
    answers = {
        str(lang): " ".join(str(a).split()) for lang, a in (raw.get("answers") or {}).items()
    }
    if not questions or not answers:
        raise ValueError(f"{source}: entry {key!r} needs questions and answers")
    return FaqEntry(
        id=key,
        questions=questions,
        answers=answers,
        offer_human=bool(raw.get("offer_human", False)),
    )
