"""The intent classifier: a fast TF-IDF branch, fused with a sentence embedding when unsure.

Fast branch: word 1-2-gram and character 2-5-gram TF-IDF of the accent-folded,
shorthand-expanded text (so "đặt lịch", "dat lich" and "đặt lịc" share most features) and a
linear SVM. Full branch: the same TF-IDF features concatenated with the e5 sentence embedding,
another linear SVM. A message goes through the full branch only when the fast one is below
`gate`, which keeps the average cost of a message near the fast branch's.

Scores become probabilities by a softmax whose temperature is fitted on held-out folds of the
training data; the out-of-scope threshold is tuned on the same folds. The test data of an
evaluation is never seen by either.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from nlu.embedding import SentenceEmbedder
from nlu.text import normalize, strip_diacritics

log = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"
EmbeddingMode = Literal["auto", "always", "never"]

# Bump when the stored model's arrays or the features change meaning.
STORE_FORMAT = "omnicrm-intents-1"
# Below this fast-branch confidence the embedding is computed and the full branch decides.
# (In "auto" mode the gate is re-chosen on held-out folds of the training data.)
DEFAULT_GATE = 0.75
# A cheaper gate may cost at most this much held-out accuracy.
GATE_TOLERANCE = 0.005
# The most messages (share of held-out training folds) the gate may send to the embedding.
MAX_EMBEDDED_SHARE = 0.25
_GATES = np.round(np.arange(0.30, 1.0, 0.05), 2)
# The embedding's columns are scaled up so that they weigh more than the TF-IDF block: chosen
# on validation splits of the TRAINING sets (CLINC150 in-scope 0.978 at 3, 0.981 at 5, 0.979
# at 7; Banking77 and our own data equal within 0.1 point).
EMBEDDING_WEIGHT = 5.0
_SVM_C = 0.5
_TEMPERATURES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50], dtype=float)
# In-scope accuracy the out-of-scope threshold may cost on held-out data (tune_threshold).
IN_SCOPE_BUDGET = 0.01
# A lone word never seen in training is trusted only when the embedding branch is this sure
# ("certainly" → affirm at 0.99; made-up "trabb" scored affirm at 0.81, "howdy" greet 0.73).
UNKNOWN_WORD_CONFIDENCE = 0.9
_SMALL_DATA = 3000  # below this many examples, 5-fold validation; above, one 80/20 split


@dataclass(frozen=True)
class Prediction:
    """Every intent with its probability (best first) and which branch decided."""

    ranking: tuple[tuple[str, float], ...]
    used_embedding: bool

    @property
    def best(self) -> tuple[str, float]:
        return self.ranking[0]


@dataclass(frozen=True)
class _Twins:
    """Unaccented copies of training examples: which example each copies, and its vector."""

    source: np.ndarray
    embeddings: np.ndarray


@dataclass(frozen=True)
class _Branch:
    """One fitted linear model: weights for TF-IDF (and embedding) columns, temperature."""

    text_weights: np.ndarray  # (n_features, n_classes)
    embedding_weights: np.ndarray | None  # (dim, n_classes), already times EMBEDDING_WEIGHT
    bias: np.ndarray  # float32 like the weights, so no per-message copy or upcast
    temperature: float = 1.0

    def row_scores(
        self, columns: np.ndarray, values: np.ndarray, embedding: np.ndarray | None
    ) -> np.ndarray:
        """Scores of one message given as (columns, values) of its TF-IDF row."""
        raw = values @ self.text_weights[columns] + self.bias
        if self.embedding_weights is not None and embedding is not None:
            raw = raw + embedding @ self.embedding_weights
        return raw

    def scores(self, tfidf: sparse.csr_matrix, embedding: np.ndarray | None) -> np.ndarray:
        raw = tfidf @ self.text_weights + self.bias
        if self.embedding_weights is not None and embedding is not None:
            raw = raw + embedding @ self.embedding_weights
        return raw


def _vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", dtype=np.float32
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float32
                ),
            ),
        ]
    )


class _SparseRow:
    """The fitted TF-IDF union applied to one text without scikit-learn's per-call overhead.

    `FeatureUnion.transform` spends ~1 ms validating a one-row input; this does the same
    arithmetic (sublinear tf, idf, l2 per block, blocks side by side) in ~0.1 ms. A test
    checks that both agree.
    """

    def __init__(self, vocabularies: Sequence[dict[str, int]], idfs: Sequence[np.ndarray]) -> None:
        self.vocabularies = list(vocabularies)
        self.idfs = [np.asarray(idf, dtype=np.float64) for idf in idfs]
        analyzers = [v.build_analyzer() for _, v in _vectorizer().transformer_list]
        self._blocks = []
        offset = 0
        for analyze, vocabulary, idf in zip(analyzers, self.vocabularies, self.idfs, strict=True):
            self._blocks.append((analyze, vocabulary, idf, offset))
            offset += len(vocabulary)
        self.width = offset

    @classmethod
    def of(cls, union: FeatureUnion) -> _SparseRow:
        """From a fitted `_vectorizer()`."""
        blocks = [vectorizer for _, vectorizer in union.transformer_list]
        return cls([v.vocabulary_ for v in blocks], [v.idf_ for v in blocks])

    def known_words(self, text: str) -> tuple[int, int]:
        """How many of the text's words were seen in training, and how many words it has."""
        _, vocabulary, _, _ = self._blocks[0]
        words = text.split()
        return sum(word in vocabulary for word in words), len(words)

    def __call__(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and values of the text's feature vector."""
        columns: list[int] = []
        values: list[float] = []
        for analyze, vocabulary, idf, offset in self._blocks:
            counts: dict[int, int] = {}
            for term in analyze(text):
                column = vocabulary.get(term)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if not counts:
                continue
            block = np.fromiter(counts, dtype=np.int64, count=len(counts))
            weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=float))) * idf[block]
            weights /= np.sqrt(weights @ weights)
            columns.extend((block + offset).tolist())
            values.extend(weights.tolist())
        return np.asarray(columns, dtype=np.int64), np.asarray(values, dtype=np.float32)


def _fit_branch(
    tfidf: sparse.csr_matrix, embeddings: np.ndarray | None, labels: np.ndarray, n_classes: int
) -> _Branch:
    """Fit one linear SVM; labels are class indices 0..n_classes-1."""
    features = tfidf
    if embeddings is not None:
        features = sparse.hstack([tfidf, sparse.csr_matrix(embeddings * EMBEDDING_WEIGHT)])
        features = features.tocsr()
    model = LinearSVC(C=_SVM_C, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, labels)
    coef = np.zeros((n_classes, features.shape[1]))
    bias = np.zeros(n_classes)
    present = model.classes_
    if len(present) == 2 and coef.shape[0] >= 2:  # binary SVMs return one hyperplane
        coef[present[1]], bias[present[1]] = model.coef_[0], model.intercept_[0]
        coef[present[0]], bias[present[0]] = -model.coef_[0], -model.intercept_[0]
    else:
        coef[present], bias[present] = model.coef_, model.intercept_
    # Classes absent from this fold must never win.
    missing = np.setdiff1d(np.arange(n_classes), present)
    bias[missing] = -1e3
    n_text = tfidf.shape[1]
    text_weights = np.ascontiguousarray(coef[:, :n_text].T, dtype=np.float32)
    emb_weights = None
    if embeddings is not None:
        emb_weights = np.ascontiguousarray(coef[:, n_text:].T * EMBEDDING_WEIGHT, dtype=np.float32)
    return _Branch(text_weights, emb_weights, bias.astype(np.float32))


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    scaled = scores * temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def _fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature with the lowest log-loss on held-out scores."""
    rows = np.arange(len(labels))
    losses = [-np.log(softmax(scores, t)[rows, labels] + 1e-12).mean() for t in _TEMPERATURES]
    return float(_TEMPERATURES[int(np.argmin(losses))])


def tune_threshold(
    confidences: np.ndarray,
    predicted_oos: np.ndarray,
    is_oos: np.ndarray,
    correct: np.ndarray,
    *,
    budget: float = IN_SCOPE_BUDGET,
) -> float:
    """The confidence below which a prediction becomes out_of_scope, chosen on held-out data.

    Rejects as many held-out out-of-scope messages as possible while giving up at most
    `budget` of held-out in-scope accuracy (the lowest such threshold on ties). This needs no
    guess of how common out-of-scope messages are: training sets rarely say (CLINC150 has 100
    among 15,100). Without out-of-scope examples the threshold is 0.
    """
    if not is_oos.any() or is_oos.all():
        return 0.0
    points = np.unique(confidences)
    candidates = np.concatenate([[0.0], (points[:-1] + points[1:]) / 2, [points[-1] + 1e-6]])
    floor = (correct & ~predicted_oos)[~is_oos].mean() - budget
    best, best_recall = 0.0, -1.0
    for threshold in candidates:
        rejected = predicted_oos | (confidences < threshold)
        if (correct & ~rejected)[~is_oos].mean() < floor - 1e-12:
            continue
        recall = rejected[is_oos].mean()
        if recall > best_recall + 1e-12:
            best, best_recall = float(threshold), recall
    return best


def choose_gate(fast: np.ndarray, full: np.ndarray, gold: np.ndarray) -> float:
    """The fast-branch confidence below which the embedding is worth its cost.

    Every gate in a grid is scored on held-out folds by the accuracy of "fast branch if at
    least that sure, else full branch" and by the share of messages it sends to the
    embedding. Among gates that embed at most MAX_EMBEDDED_SHARE of the messages (the latency
    budget: ~0.3 ms fast, ~10 ms an embedding, ≤ 3 ms on average), the cheapest within
    GATE_TOLERANCE of the best accuracy wins.
    """
    fast_best = fast.max(axis=1)
    affordable = [g for g in _GATES if (fast_best < g).mean() <= MAX_EMBEDDED_SHARE]
    accuracy = {
        float(gate): float(
            (np.where((fast_best < gate)[:, None], full, fast).argmax(axis=1) == gold).mean()
        )
        for gate in affordable or _GATES[:1]
    }
    target = max(accuracy.values()) - GATE_TOLERANCE
    return min(gate for gate, acc in accuracy.items() if acc >= target)


class IntentClassifier:
    """Fit on (text, intent) pairs; predict a ranked list of intents for one message."""

    def __init__(
        self,
        *,
        embedder: SentenceEmbedder | None = None,
        embeddings: EmbeddingMode = "auto",
        gate: float = DEFAULT_GATE,
        quick: bool = False,
    ) -> None:
        """`quick` calibrates on one TF-IDF fitted to every training text instead of one per
        fold: ~3x faster, but the folds see each other's word statistics (not labels). Used
        only for the fast model served while a cold start trains the full one."""
        self.mode: EmbeddingMode = embeddings
        self._quick = quick
        self._quick_tfidf: sparse.csr_matrix | None = None
        self.gate = gate if embeddings == "auto" else (1.01 if embeddings == "always" else 0.0)
        self._embedder = embedder if embeddings == "never" else (embedder or SentenceEmbedder())
        self.classes: tuple[str, ...] = ()
        self.threshold = 0.0
        self._fast_t = 1.0
        self._full_t = 1.0
        self._vectorizer: FeatureUnion | None = None
        self._row: _SparseRow | None = None
        self._uses_fast = True
        self._twins: _Twins | None = None
        # Held-out (confidence, predicted oos, is oos, correct) arrays, kept for diagnostics.
        self.validation: tuple[np.ndarray, ...] = ()
        self._fast: _Branch | None = None
        self._full: _Branch | None = None

    # ------------------------------------------------------------------ training
    def fit(self, texts: Sequence[str], intents: Sequence[str]) -> IntentClassifier:
        """Train the branches, then calibrate and tune on held-out folds of the same data."""
        if len(texts) != len(intents) or not texts:
            raise ValueError("need as many intents as texts, and at least one of each")
        self.classes = tuple(sorted(set(intents)))
        index = {name: i for i, name in enumerate(self.classes)}
        labels = np.array([index[name] for name in intents])
        folded = [normalize(text) for text in texts]
        embeddings = self._training_embeddings(texts)
        self._twins = self._unaccented_twins(texts) if embeddings is not None else None
        self._uses_fast = embeddings is None or self.mode != "always"
        if len(self.classes) > 1 and np.bincount(labels).min() >= 2:
            self._calibrate(folded, embeddings, labels)
        if self._vectorizer is None:
            self._vectorizer = _vectorizer().fit(folded)
        self._row = _SparseRow.of(self._vectorizer)
        if len(self.classes) > 1:
            everything = np.arange(len(labels))
            tfidf = self._quick_tfidf
            if tfidf is None:
                tfidf = self._vectorizer.transform(folded)
            self._quick_tfidf = None
            n = len(self.classes)
            if self._uses_fast:
                self._fast = _branch(tfidf, None, labels, n, self._fast_t)
            if embeddings is not None:
                x, e, y = self._full_set(self._vectorizer, folded, everything, embeddings, labels)
                self._full = _branch(x, e, y, n, self._full_t)
        return self

    def _unaccented_twins(self, texts: Sequence[str]) -> _Twins | None:
        """Examples typed with diacritics, embedded again without them.

        TF-IDF reads folded text, so it sees no difference; e5 reads the text as typed and
        places "dat lich" away from "đặt lịch". Training the full branch on both spellings
        teaches it what unaccented Vietnamese looks like in embedding space.
        """
        assert self._embedder is not None
        pairs = [(i, strip_diacritics(t)) for i, t in enumerate(texts) if strip_diacritics(t) != t]
        if not pairs:
            return None
        inputs = [_embedding_input(text) for _, text in pairs]
        return _Twins(np.array([i for i, _ in pairs]), self._embedder.embed_many(inputs))

    def _full_set(
        self,
        vectorizer: FeatureUnion,
        folded: list[str],
        rows: np.ndarray,
        embeddings: np.ndarray,
        labels: np.ndarray,
    ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        """TF-IDF, embeddings and labels of `rows`, plus the unaccented twins of those rows."""
        picked = list(rows)
        extra = np.zeros((0, embeddings.shape[1]), dtype=embeddings.dtype)
        if self._twins is not None:
            keep = np.isin(self._twins.source, rows)
            picked += list(self._twins.source[keep])
            extra = self._twins.embeddings[keep]
        tfidf = vectorizer.transform([folded[i] for i in picked])
        return tfidf, np.vstack([embeddings[rows], extra]), labels[np.array(picked)]

    def _training_embeddings(self, texts: Sequence[str]) -> np.ndarray | None:
        if self._embedder is None:
            return None
        return self._embedder.embed_many([_embedding_input(text) for text in texts])

    def _calibrate(
        self, folded: list[str], embeddings: np.ndarray | None, labels: np.ndarray
    ) -> None:
        """Out-of-fold scores → softmax temperatures, the gate and the out-of-scope threshold."""
        n = len(self.classes)
        fast_scores = np.zeros((len(labels), n)) if self._uses_fast else None
        full_scores = np.zeros((len(labels), n)) if embeddings is not None else None
        seen = np.zeros(len(labels), dtype=bool)
        shared = None
        if self._quick:
            self._vectorizer = _vectorizer()
            shared = self._vectorizer.fit_transform(folded).tocsr()
            self._quick_tfidf = shared
        for train, held in _folds(labels):
            if shared is not None and self._vectorizer is not None:
                vectorizer, tfidf_train, tfidf_held = self._vectorizer, shared[train], shared[held]
            else:
                vectorizer = _vectorizer().fit([folded[i] for i in train])
                tfidf_train = vectorizer.transform([folded[i] for i in train])
                tfidf_held = vectorizer.transform([folded[i] for i in held])
            if fast_scores is not None:
                fast = _fit_branch(tfidf_train, None, labels[train], n)
                fast_scores[held] = fast.scores(tfidf_held, None)
            if embeddings is not None and full_scores is not None:
                x, e, y = self._full_set(vectorizer, folded, train, embeddings, labels)
                full = _fit_branch(x, e, y, n)
                full_scores[held] = full.scores(tfidf_held, embeddings[held])
            seen[held] = True
        gold = labels[seen]
        probs = None
        if fast_scores is not None:
            self._fast_t = _fit_temperature(fast_scores[seen], gold)
            probs = softmax(fast_scores[seen], self._fast_t)
        if full_scores is not None:
            self._full_t = _fit_temperature(full_scores[seen], gold)
            full_probs = softmax(full_scores[seen], self._full_t)
            if probs is None:
                probs = full_probs
            else:
                if self.mode == "auto":
                    self.gate = choose_gate(probs, full_probs, gold)
                unsure = probs.max(axis=1) < self.gate
                probs = np.where(unsure[:, None], full_probs, probs)
        assert probs is not None
        best = probs.argmax(axis=1)
        oos = self.classes.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in self.classes else -1
        self.validation = (probs.max(axis=1), best == oos, gold == oos, best == gold)
        self.threshold = tune_threshold(*self.validation)
        log.info(
            "intent classifier calibrated: T_fast=%s T_full=%s gate=%.2f threshold=%.3f",
            self._fast_t,
            self._full_t,
            self.gate,
            self.threshold,
        )

    # ------------------------------------------------------------------ storage
    def save(self, path: Path) -> None:
        """Write the fitted model as plain arrays (no pickle), for a quick next start-up."""
        if self._row is None:
            raise ValueError("fit the classifier before saving it")
        meta = {
            "format": STORE_FORMAT,
            "classes": list(self.classes),
            "mode": self.mode,
            "gate": self.gate,
            "threshold": self.threshold,
        }
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
        blocks = zip(self._row.vocabularies, self._row.idfs, strict=True)
        for i, (vocabulary, idf) in enumerate(blocks):
            arrays[f"vocabulary{i}"] = np.array(json.dumps(vocabulary, ensure_ascii=False))
            arrays[f"idf{i}"] = idf
        for name, branch in (("fast", self._fast), ("full", self._full)):
            if branch is not None:
                arrays[f"{name}_text"] = branch.text_weights
                arrays[f"{name}_bias"] = branch.bias
                arrays[f"{name}_temperature"] = np.array(branch.temperature)
                if branch.embedding_weights is not None:
                    arrays[f"{name}_embedding"] = branch.embedding_weights
        with path.open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path, *, embedder: SentenceEmbedder | None = None) -> IntentClassifier:
        """Read what `save` wrote; raises ValueError when it is not such a file."""
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta.get("format") != STORE_FORMAT:
                raise ValueError(f"{path}: not a stored intent classifier of this version")
            model = cls(embedder=embedder, embeddings=meta["mode"], gate=meta["gate"])
            model.gate, model.threshold = meta["gate"], meta["threshold"]
            model.classes = tuple(meta["classes"])
            blocks = range(len(_vectorizer().transformer_list))
            model._row = _SparseRow(
                [json.loads(str(stored[f"vocabulary{i}"])) for i in blocks],
                [stored[f"idf{i}"] for i in blocks],
            )
            for name in ("fast", "full"):
                if f"{name}_text" in stored:
                    branch = _Branch(
                        stored[f"{name}_text"],
                        stored.get(f"{name}_embedding"),
                        stored[f"{name}_bias"],
                        float(stored[f"{name}_temperature"]),
                    )
                    setattr(model, f"_{name}", branch)
        return model

    @property
    def embeddings_computed(self) -> int:
        """Messages whose embedding had to be computed (not cached) since start-up."""
        return self._embedder.computed if self._embedder is not None else 0

    # ------------------------------------------------------------------ prediction
    def predict(self, text: str, *, threshold: float | None = None) -> Prediction:
        """Rank every intent for one message; out_of_scope when nothing is confident.

        `threshold` overrides the tuned out-of-scope threshold for this call.
        """
        folded = normalize(text)
        if self._row is None or not folded:
            return self._nothing()
        columns, values = self._row(folded)
        if not len(columns) and self.mode != "always":
            return self._nothing()
        if self._fast is None and self._full is None:  # one class only
            return Prediction(((self.classes[0], 1.0),), used_embedding=False)
        known, words = self._row.known_words(folded)
        if not known and self.mode != "always":
            # Character n-grams alone match gibberish ("qwzx plimf" → pricing at 0.74). One
            # unknown but word-like token ("howdy", "farewell") is left to the embedding, which
            # knows words the training data never used; anything else is out of scope.
            if words > 1 or self._full is None or not plausible_word(folded):
                return self._nothing()
            guess = self._full_prediction(text, columns, values, threshold)
            return guess if guess.best[1] >= UNKNOWN_WORD_CONFIDENCE else self._nothing()
        probs = None
        if self._fast is not None:
            probs = softmax(self._fast.row_scores(columns, values, None), self._fast.temperature)
        if (probs is None or probs.max() < self.gate) and self._full is not None:
            return self._full_prediction(text, columns, values, threshold)
        assert probs is not None
        return self._ranked(probs, False, self.threshold if threshold is None else threshold)

    def _full_prediction(
        self, text: str, columns: np.ndarray, values: np.ndarray, threshold: float | None
    ) -> Prediction:
        """The fused branch's ranking: TF-IDF row plus the sentence embedding of the text."""
        assert self._full is not None and self._embedder is not None
        embedding = self._embedder.embed(_embedding_input(text))
        scores = self._full.row_scores(columns, values, embedding)
        probs = softmax(scores, self._full.temperature)
        return self._ranked(probs, True, self.threshold if threshold is None else threshold)

    def _ranked(self, probs: np.ndarray, used: bool, threshold: float) -> Prediction:
        order = np.argsort(-probs)
        ranking = [(self.classes[i], float(probs[i])) for i in order]
        best_name, best = ranking[0]
        if best_name != OUT_OF_SCOPE and best < threshold:
            oos = max(dict(ranking).get(OUT_OF_SCOPE, 0.0), 1.0 - best, best)
            ranking = [(OUT_OF_SCOPE, oos)] + [r for r in ranking if r[0] != OUT_OF_SCOPE]
        return Prediction(tuple(ranking), used_embedding=used)

    def _nothing(self) -> Prediction:
        """No usable word at all ("👽", "", "???"): out of scope, and sure of it."""
        others = tuple((name, 0.0) for name in self.classes if name != OUT_OF_SCOPE)
        return Prediction(((OUT_OF_SCOPE, 1.0), *others), used_embedding=False)


def _branch(
    tfidf: sparse.csr_matrix,
    embeddings: np.ndarray | None,
    labels: np.ndarray,
    n_classes: int,
    temperature: float,
) -> _Branch:
    fitted = _fit_branch(tfidf, embeddings, labels, n_classes)
    return _Branch(fitted.text_weights, fitted.embedding_weights, fitted.bias, temperature)


_VOWELS = frozenset("aeiouy")


def plausible_word(word: str) -> bool:
    """Whether one folded token could be a word: letters, a vowel, no long consonant run.

    Cheap character-level sanity check for a single unknown token ("howdy" yes, "qwzx" and
    "xkcdtv" no) before the embedding is asked about it.
    """
    if not word.isalpha() or not word.isascii() or not 2 <= len(word) <= 20:
        return False
    run = 0
    for ch in word:
        run = 0 if ch in _VOWELS else run + 1
        if run >= 4:
            return False
    return any(ch in _VOWELS for ch in word)


def _embedding_input(text: str) -> str:
    """What e5 reads: the message as typed, whitespace tidied (it knows the diacritics)."""
    return " ".join(text.split())


def _folds(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Held-out folds of the training data for calibration."""
    dummy = np.zeros(len(labels))
    if len(labels) < _SMALL_DATA:
        splits = min(5, int(np.bincount(labels).min()))
        if splits >= 2:
            return list(StratifiedKFold(splits, shuffle=True, random_state=7).split(dummy, labels))
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=7)
    return list(splitter.split(dummy, labels))
