"""Score an NLU engine on Rasa-format test data: intents, entities, latency, per style.

Definitions, so the numbers mean the same thing everywhere they are printed:
- accuracy: share of examples whose predicted intent equals the annotated one;
- macro-F1: unweighted mean F1 over every intent that is expected or predicted at least once
  (precision of an intent never predicted is 0);
- in-scope accuracy / out-of-scope recall (only when the data has `out_of_scope`): accuracy on
  the examples that are not out of scope, and the share of out-of-scope ones recognised;
- entities: a predicted entity is correct when its type and its [start, end) span equal an
  annotated one. Only entity types annotated somewhere in the data are scored, so a data set
  that annotates no entities says "n/a" instead of calling every extracted entity wrong;
- latency: wall time of one `parse` call, per example.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nlu.rasa_yaml import Example, NluData, read_nlu
from nlu.types import ParseResult

if TYPE_CHECKING:
    from nlu.classifier import EmbeddingMode
    from nlu.entities import EntityExtractor

OUT_OF_SCOPE = "out_of_scope"
MAX_CONFUSIONS = 15


class Parser(Protocol):
    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult: ...


@dataclass(frozen=True)
class Outcome:
    """What the engine said about one test example, and how long it took."""

    text: str
    expected: str
    predicted: str
    confidence: float
    seconds: float
    style: str | None = None
    expected_entities: frozenset[tuple[str, int, int]] = frozenset()
    predicted_entities: frozenset[tuple[str, int, int]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """One row of the `--report` file."""
        row: dict[str, Any] = {
            "text": self.text,
            "expected": self.expected,
            "predicted": self.predicted,
            "confidence": round(self.confidence, 4),
        }
        if self.style:
            row["style"] = self.style
        return row


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Latency:
    mean_ms: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Report:
    """Every figure `omnicrm nlu evaluate` prints."""

    examples: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, ClassScores]
    confusions: list[tuple[str, str, int]]
    latency: Latency
    entity_precision: float | None = None
    entity_recall: float | None = None
    per_entity: dict[str, ClassScores] = field(default_factory=dict)
    in_scope_accuracy: float | None = None
    oos_recall: float | None = None
    per_style: dict[str, tuple[float, int]] = field(default_factory=dict)
    style_latency: dict[str, Latency] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def scores(table: dict[str, ClassScores]) -> dict[str, dict[str, float]]:
            return {name: vars(value) for name, value in table.items()}

        return {
            "examples": self.examples,
            "intent_accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "in_scope_accuracy": self.in_scope_accuracy,
            "out_of_scope_recall": self.oos_recall,
            "per_intent": scores(self.per_intent),
            "confusions": [
                {"expected": e, "predicted": p, "count": n} for e, p, n in self.confusions
            ],
            "entity_precision": self.entity_precision,
            "entity_recall": self.entity_recall,
            "per_entity": scores(self.per_entity),
            "latency_ms": vars(self.latency),
            "per_style": {
                style: {
                    "accuracy": acc,
                    "examples": n,
                    "latency_ms": vars(self.style_latency[style]),
                }
                for style, (acc, n) in self.per_style.items()
            },
        }


def run(nlu: Parser, examples: Iterable[Example], *, now: datetime | None = None) -> list[Outcome]:
    """Parse every example once, timing each call."""
    outcomes = []
    for example in examples:
        started = time.perf_counter()
        result = nlu.parse(example.text, now=now)
        seconds = time.perf_counter() - started
        outcomes.append(
            Outcome(
                text=example.text,
                expected=example.intent,
                predicted=result.intent.name,
                confidence=result.intent.confidence,
                seconds=seconds,
                style=example.metadata.get("style"),
                expected_entities=frozenset((e.entity, e.start, e.end) for e in example.entities),
                predicted_entities=frozenset(
                    (str(e["entity"]), int(e["start"]), int(e["end"])) for e in result.entities
                ),
            )
        )
    return outcomes


def evaluate(
    nlu: Parser, data: NluData, *, now: datetime | None = None
) -> tuple[Report, list[Outcome]]:
    """Run `nlu` over `data` and score it."""
    outcomes = run(nlu, data.examples, now=now)
    return score(outcomes, entity_types=data.entity_types), outcomes


def score(outcomes: Sequence[Outcome], *, entity_types: Iterable[str] = ()) -> Report:
    """All metrics of a run; pure, so tests can check them on hand-made outcomes."""
    if not outcomes:
        raise ValueError("no examples to evaluate")
    expected = [o.expected for o in outcomes]
    predicted = [o.predicted for o in outcomes]
    per_intent = class_scores(expected, predicted)
    report_oos = OUT_OF_SCOPE in expected
    in_scope = [o for o in outcomes if o.expected != OUT_OF_SCOPE]
    oos = [o for o in outcomes if o.expected == OUT_OF_SCOPE]
    entity_p, entity_r, per_entity = entity_scores(outcomes, frozenset(entity_types))
    styles: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.style:
            styles[outcome.style].append(outcome)
    return Report(
        examples=len(outcomes),
        accuracy=_accuracy(outcomes),
        macro_f1=sum(s.f1 for s in per_intent.values()) / len(per_intent),
        per_intent=per_intent,
        confusions=confusion_pairs(expected, predicted),
        latency=latency([o.seconds for o in outcomes]),
        entity_precision=entity_p,
        entity_recall=entity_r,
        per_entity=per_entity,
        in_scope_accuracy=_accuracy(in_scope) if report_oos and in_scope else None,
        oos_recall=_accuracy(oos) if report_oos else None,
        per_style={style: (_accuracy(group), len(group)) for style, group in styles.items()},
        style_latency={
            style: latency([o.seconds for o in group]) for style, group in styles.items()
        },
    )


def _accuracy(outcomes: Sequence[Outcome]) -> float:
    return sum(o.expected == o.predicted for o in outcomes) / len(outcomes)


def class_scores(expected: Sequence[str], predicted: Sequence[str]) -> dict[str, ClassScores]:
    """Precision, recall, F1 and support of every label expected or predicted."""
    true_pos: Counter[str] = Counter()
    for gold, guess in zip(expected, predicted, strict=True):
        if gold == guess:
            true_pos[gold] += 1
    support = Counter(expected)
    guessed = Counter(predicted)
    return {
        label: _prf(true_pos[label], guessed[label], support[label])
        for label in sorted(support.keys() | guessed.keys())
    }


def _prf(true_pos: int, predicted: int, actual: int) -> ClassScores:
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClassScores(precision, recall, f1, actual)


def confusion_pairs(
    expected: Sequence[str], predicted: Sequence[str]
) -> list[tuple[str, str, int]]:
    """The most frequent (expected, predicted) mistakes, most frequent first."""
    pairs = Counter(
        (gold, guess) for gold, guess in zip(expected, predicted, strict=True) if gold != guess
    )
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [(gold, guess, count) for (gold, guess), count in ranked[:MAX_CONFUSIONS]]


def entity_scores(
    outcomes: Sequence[Outcome], types: frozenset[str]
) -> tuple[float | None, float | None, dict[str, ClassScores]]:
    """Span-exact entity precision/recall over the annotated entity types."""
    if not types:
        return None, None, {}
    hits: Counter[str] = Counter()
    found: Counter[str] = Counter()
    wanted: Counter[str] = Counter()
    for outcome in outcomes:
        gold = {e for e in outcome.expected_entities if e[0] in types}
        guess = {e for e in outcome.predicted_entities if e[0] in types}
        for entity, *_ in gold & guess:
            hits[entity] += 1
        for entity, *_ in guess:
            found[entity] += 1
        for entity, *_ in gold:
            wanted[entity] += 1
    per_type = {t: _prf(hits[t], found[t], wanted[t]) for t in sorted(types)}
    total = _prf(sum(hits.values()), sum(found.values()), sum(wanted.values()))
    return total.precision, total.recall, per_type


def latency(seconds: Sequence[float]) -> Latency:
    """Mean, median and 99th percentile (nearest rank) in milliseconds."""
    ordered = sorted(seconds)
    return Latency(
        mean_ms=1000 * sum(ordered) / len(ordered),
        p50_ms=1000 * _nearest_rank(ordered, 0.50),
        p99_ms=1000 * _nearest_rank(ordered, 0.99),
    )


def _nearest_rank(ordered: Sequence[float], share: float) -> float:
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without importing math
    return ordered[int(rank) - 1]


def format_report(report: Report) -> str:
    """The human-readable report `omnicrm nlu evaluate` prints."""
    lines = [
        f"examples            {report.examples}",
        f"intent accuracy     {report.accuracy:.4f}",
        f"macro-F1            {report.macro_f1:.4f}",
    ]
    if report.in_scope_accuracy is not None:
        lines.append(f"in-scope accuracy   {report.in_scope_accuracy:.4f}")
    if report.oos_recall is not None:
        lines.append(f"out-of-scope recall {report.oos_recall:.4f}")
    if report.entity_precision is None:
        lines.append("entities            n/a (no entity annotated in the data)")
    else:
        lines.append(
            f"entity precision    {report.entity_precision:.4f}   "
            f"recall {report.entity_recall:.4f}"
        )
    lat = report.latency
    lines.append(
        f"parse latency       mean {lat.mean_ms:.2f} ms   p50 {lat.p50_ms:.2f} ms   "
        f"p99 {lat.p99_ms:.2f} ms"
    )
    if report.per_style:
        lines += ["", f"{'style':<18} {'accuracy':>8} {'n':>5} {'mean ms':>8} {'p99 ms':>8}"]
        for style, (acc, count) in sorted(report.per_style.items()):
            style_lat = report.style_latency[style]
            lines.append(
                f"{style:<18} {acc:>8.4f} {count:>5} {style_lat.mean_ms:>8.2f} "
                f"{style_lat.p99_ms:>8.2f}"
            )
    lines += ["", f"{'intent':<32} {'precision':>9} {'recall':>7} {'n':>5}"]
    for name, scores in report.per_intent.items():
        lines.append(
            f"{name:<32} {scores.precision:>9.3f} {scores.recall:>7.3f} {scores.support:>5}"
        )
    if report.per_entity:
        lines += ["", f"{'entity':<32} {'precision':>9} {'recall':>7} {'n':>5}"]
        for name, scores in report.per_entity.items():
            lines.append(
                f"{name:<32} {scores.precision:>9.3f} {scores.recall:>7.3f} {scores.support:>5}"
            )
    if report.confusions:
        lines += ["", "most frequent confusions (expected -> predicted: count)"]
        lines += [f"  {gold} -> {guess}: {count}" for gold, guess, count in report.confusions]
    return "\n".join(lines)


@dataclass(frozen=True)
class EvaluationRun:
    """One `omnicrm nlu evaluate`: which engine was scored, on what, and the results."""

    data: str
    trained_on: str
    training_examples: int
    training_seconds: float
    embeddings: str
    threshold: float
    report: Report
    outcomes: list[Outcome]

    def summary_line(self) -> str:
        return (
            f"{self.trained_on} ({self.training_examples} examples) in "
            f"{self.training_seconds:.1f} s; embeddings={self.embeddings}; "
            f"out-of-scope threshold {self.threshold:.3f}; scoring {self.data}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "trained_on": self.trained_on,
            "training_examples": self.training_examples,
            "training_seconds": round(self.training_seconds, 3),
            "embeddings": self.embeddings,
            "threshold": self.threshold,
            **self.report.to_json(),
        }


def evaluate_files(
    data: Path,
    *,
    train: Path | None = None,
    embeddings: EmbeddingMode = "auto",
    entities: EntityExtractor | None = None,
    default_language: str = "vi",
    now: datetime | None = None,
) -> EvaluationRun:
    """Train (the shipped data unless `train` is given), then score on `data`."""
    from nlu.builtin import BuiltinNLU, default_data_paths, shipped_training_data

    test = read_nlu(data)
    if not test.examples:
        raise ValueError(f"{data}: no intent examples to evaluate")
    training = read_nlu(train) if train else shipped_training_data()
    nlu = BuiltinNLU(
        data=training,
        entities=entities,
        default_language=default_language,
        embeddings=embeddings,
        reuse=train is None,  # --train measures a freshly trained engine, training included
        background=False,  # score the whole engine, never its start-up fast branch alone
    )
    report, outcomes = evaluate(nlu, test, now=now)
    return EvaluationRun(
        data=str(data),
        trained_on=(
            f"trained on {train}"
            if train
            else "shipped engine (" + ", ".join(p.name for p in default_data_paths()) + ") ready"
        ),
        training_examples=len(training.examples),
        training_seconds=nlu.training_seconds,
        embeddings=embeddings,
        threshold=nlu.threshold,
        report=report,
        outcomes=outcomes,
    )
