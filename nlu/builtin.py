"""The built-in NLU: keyword phrases plus overlap with example utterances, no model to train."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nlu.text import FILLER_WORDS, content_terms, detect_language, normalize, tokenize
from nlu.types import IntentScore, ParseResult

OUT_OF_SCOPE = "out_of_scope"
MAX_RANKING = 10
# A standalone intent ("ok", "xin chào") loses this much per extra meaningful word, down to
# the floor: "xin chào, cho hỏi giá tư vấn" is a question, not a greeting.
_EXTRA_WORD_PENALTY = 0.2
_STANDALONE_FLOOR = 0.3
_REPEAT_BONUS = 0.05
# "có wifi không?", "còn lịch chưa?" are yes/no questions, not answers: an utterance whose last
# meaningful word is one of these tails (after other content) damps affirm and deny.
_QUESTION_TAILS = frozenset({"khong", "chua"})
_ANSWER_WORDS = _QUESTION_TAILS | {"thoi", "da", "vang", "ok"}  # "thôi không" is still an answer
_ANSWER_INTENTS = frozenset({"affirm", "deny"})
_QUESTION_DAMPING = 0.3
_QUESTION_FRAME = frozenset({"co", "khong", "chua"})  # scaffolding, not content, in a question
# Rasa inline entity annotations: "[Lan](name)" and '[Lan]{"entity": "name"}'.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class _Keywords:
    """Normalised keyword phrases of all intents, indexed by phrase for n-gram lookup."""

    by_phrase: dict[str, tuple[tuple[str, float], ...]]
    longest: int
    standalone: frozenset[str]


@dataclass(frozen=True)
class _Hit:
    """What the phrases of one intent matched in one message."""

    weight: float
    count: int
    covered: frozenset[int]


def default_data_path() -> Path:
    """The training data shipped inside the package."""
    return Path(str(resources.files("nlu").joinpath("data", "examples.yml")))


def load_examples(path: Path) -> dict[str, tuple[str, ...]]:
    """Intent → example utterances from a Rasa 3 NLU YAML file (annotations removed)."""
    data = _read_yaml(path)
    examples: dict[str, list[str]] = defaultdict(list)
    for block in data.get("nlu") or ():
        if not isinstance(block, dict) or "intent" not in block:
            continue  # synonyms, regexes and lookups are not used by this engine
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples[str(block["intent"])].append(_ANNOTATION.sub(r"\1", line[2:]).strip())
    return {intent: tuple(texts) for intent, texts in examples.items()}


def _read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML mapping, refusing anything else early with the file name."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    return data


def _load_keywords(path: Path) -> _Keywords:
    """Normalise the `keywords:` section once so parsing is only dictionary look-ups."""
    by_phrase: dict[str, list[tuple[str, float]]] = defaultdict(list)
    standalone: set[str] = set()
    for intent, spec in (_read_yaml(path).get("keywords") or {}).items():
        if spec.get("standalone"):
            standalone.add(str(intent))
        for phrase, weight in (spec.get("phrases") or {}).items():
            if not isinstance(phrase, str) or not 0.0 <= float(weight) <= 1.0:
                raise ValueError(f"{path}: bad phrase {phrase!r} for {intent} (quote it?)")
            by_phrase[normalize(phrase)].append((str(intent), float(weight)))
    longest = max((len(phrase.split()) for phrase in by_phrase), default=1)
    frozen = {phrase: tuple(hits) for phrase, hits in by_phrase.items()}
    return _Keywords(by_phrase=frozen, longest=longest, standalone=frozenset(standalone))


class BuiltinNLU:
    """Transparent intent scorer: every confidence traces back to a phrase or an example."""

    def __init__(
        self,
        *,
        data_path: Path | None = None,
        threshold: float = 0.5,
        default_language: str = "vi",
    ) -> None:
        path = data_path or default_data_path()
        self._threshold = threshold
        self._default_language = default_language
        self._keywords = _load_keywords(path)
        examples = load_examples(path)
        self._example_intents: list[str] = []
        self._example_terms: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        for intent, texts in examples.items():
            for text in texts:
                self._add_example(intent, _terms(tokenize(text)))
        keyword_intents = {i for hits in self._keywords.by_phrase.values() for i, _ in hits}
        intents = set(examples) | keyword_intents
        self.intents: tuple[str, ...] = tuple(sorted(intents | {OUT_OF_SCOPE}))

    def _add_example(self, intent: str, terms: frozenset[str]) -> None:
        """Index one example by its words so scoring only visits examples that share one."""
        if not terms:
            return
        index = len(self._example_terms)
        self._example_intents.append(intent)
        self._example_terms.append(terms)
        for term in terms:
            self._postings[term].append(index)

    def parse(self, text: str) -> ParseResult:
        """Score every intent for one message and pick the best, or out_of_scope."""
        tokens = tokenize(text)
        keyword = self._keyword_scores(tokens)
        similar = self._similarity_scores(_terms(tokens))
        scores = {
            intent: 1.0 - (1.0 - keyword.get(intent, 0.0)) * (1.0 - similar.get(intent, 0.0))
            for intent in set(keyword) | set(similar)
            if intent != OUT_OF_SCOPE
        }
        if _is_yes_no_question(tokens):
            for intent in _ANSWER_INTENTS & scores.keys():
                scores[intent] *= _QUESTION_DAMPING
        best = max(scores.values(), default=0.0)
        oos = similar.get(OUT_OF_SCOPE, 0.0)
        if best >= self._threshold and best > oos:
            winner = max(scores, key=lambda intent: (scores[intent], intent))
            scores[OUT_OF_SCOPE] = min(max(oos, 1.0 - best), best)
        else:
            winner = OUT_OF_SCOPE
            scores[OUT_OF_SCOPE] = max(oos, 1.0 - best, best)
        ranking = sorted(
            (IntentScore(name, round(score, 4)) for name, score in scores.items() if score > 0),
            key=lambda item: (-item.confidence, item.name != winner, item.name),
        )[:MAX_RANKING]
        return ParseResult(
            text=text,
            intent=ranking[0],
            intent_ranking=tuple(ranking),
            entities=(),
            language=detect_language(text, default=self._default_language),
        )

    def _keyword_scores(self, tokens: list[str]) -> dict[str, float]:
        """Best phrase weight per intent, over whole-word n-grams of the message."""
        hits: dict[str, _Hit] = {}
        for size in range(1, min(self._keywords.longest, len(tokens)) + 1):
            for start in range(len(tokens) - size + 1):
                phrase = " ".join(tokens[start : start + size])
                for intent, weight in self._keywords.by_phrase.get(phrase, ()):
                    span = frozenset(range(start, start + size))
                    hits[intent] = _merge(hits.get(intent), weight=weight, span=span)
        return {intent: self._keyword_score(intent, hit, tokens) for intent, hit in hits.items()}

    def _keyword_score(self, intent: str, hit: _Hit, tokens: list[str]) -> float:
        """One intent's keyword confidence, discounted if a standalone phrase is buried."""
        score = min(1.0, hit.weight + _REPEAT_BONUS * (hit.count - 1))
        if intent not in self._keywords.standalone:
            return score
        extra = sum(
            1
            for position, token in enumerate(tokens)
            if position not in hit.covered and token not in FILLER_WORDS
        )
        return score * max(_STANDALONE_FLOOR, 1.0 - _EXTRA_WORD_PENALTY * extra)

    def _similarity_scores(self, terms: frozenset[str]) -> dict[str, float]:
        """Highest Jaccard overlap per intent between the message and its examples."""
        shared: dict[int, int] = defaultdict(int)
        for term in terms:
            for index in self._postings.get(term, ()):
                shared[index] += 1
        scores: dict[str, float] = {}
        for index, common in shared.items():
            union = len(terms) + len(self._example_terms[index]) - common
            intent = self._example_intents[index]
            scores[intent] = max(scores.get(intent, 0.0), common / union)
        return scores


def _terms(tokens: list[str]) -> frozenset[str]:
    """Words compared with examples; a yes/no question's "có … không" frame is left out."""
    terms = content_terms(tokens)
    return terms - _QUESTION_FRAME if _is_yes_no_question(tokens) else terms


def _is_yes_no_question(tokens: list[str]) -> bool:
    """Whether the message ends in a Vietnamese question tail after some other content."""
    meaningful = [token for token in tokens if token not in FILLER_WORDS]
    return (
        len(meaningful) >= 2
        and meaningful[-1] in _QUESTION_TAILS
        and any(token not in _ANSWER_WORDS for token in meaningful[:-1])
    )


def _merge(previous: _Hit | None, *, weight: float, span: frozenset[int]) -> _Hit:
    """Fold one more matched phrase into an intent's hit."""
    if previous is None:
        return _Hit(weight=weight, count=1, covered=span)
    return _Hit(
        weight=max(previous.weight, weight),
        count=previous.count + 1,
        covered=previous.covered | span,
    )
