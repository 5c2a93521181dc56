"""The intent classifier: fast branch, embedding fusion when unsure, calibration, per style."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from nlu import BuiltinNLU
from nlu.builtin import heldout_data_path
from nlu.classifier import IntentClassifier, _SparseRow, choose_gate, tune_threshold
from nlu.embedding import SentenceEmbedder
from nlu.rasa_yaml import read_nlu


class CountingModel:
    """Stands in for e5: a deterministic unit vector per text, and a count of calls."""

    def __init__(self) -> None:
        self.calls = 0

    def query(self, texts: str | list[str]) -> np.ndarray:
        self.calls += 1
        batch = [texts] if isinstance(texts, str) else texts
        rows = []
        for text in batch:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            vector = np.random.default_rng(seed).normal(size=384).astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return rows[0] if isinstance(texts, str) else np.vstack(rows)


TRAIN = {
    "greet": ["xin chào", "chào bạn", "hello", "hi there", "chao shop", "alo"],
    "pricing": ["giá bao nhiêu", "bao nhiêu tiền", "how much", "price list", "gia bn", "chi phí"],
    "deny": ["không", "không cần", "no", "nope", "ko can", "thôi"],
}


def _fit(tmp_path: Path, mode: str) -> tuple[IntentClassifier, CountingModel]:
    model = CountingModel()
    embedder = SentenceEmbedder(model=model, cache_dir=tmp_path)
    texts = [text for examples in TRAIN.values() for text in examples]
    intents = [intent for intent, examples in TRAIN.items() for _ in examples]
    classifier = IntentClassifier(embedder=embedder, embeddings=mode).fit(texts, intents)  # type: ignore[arg-type]
    return classifier, model


def test_embedding_runs_only_when_the_fast_branch_is_unsure(tmp_path: Path) -> None:
    classifier, model = _fit(tmp_path, "auto")
    before = model.calls
    classifier.gate = 0.0  # everything counts as sure
    assert classifier.predict("xin chào bạn").best[0] == "greet"
    assert model.calls == before
    classifier.gate = 1.01  # nothing does
    prediction = classifier.predict("giá bao nhiêu vậy")
    assert prediction.used_embedding and prediction.best[0] == "pricing"
    assert model.calls == before + 1
    classifier.predict("giá bao nhiêu vậy")  # same text: from the cache
    assert model.calls == before + 1


def test_always_mode_embeds_every_message_and_never_mode_none(tmp_path: Path) -> None:
    always, model = _fit(tmp_path, "always")
    assert always.predict("hello there").used_embedding
    never = IntentClassifier(embeddings="never").fit(["a b", "c d"], ["x", "y"])
    assert not never.predict("a b").used_embedding


def test_training_embeddings_are_cached_on_disk(tmp_path: Path) -> None:
    _, first = _fit(tmp_path, "always")
    assert first.calls > 0 and list(tmp_path.glob("e5-*.npy"))
    _, second = _fit(tmp_path, "always")
    assert second.calls == 0


def test_lru_cache_is_bounded() -> None:
    model = CountingModel()
    embedder = SentenceEmbedder(model=model, cache_size=2, cache_dir=Path("/nonexistent"))
    for text in ("a", "b", "a", "c", "a", "b"):
        embedder.embed(text)
    # a, b miss; a hits; c misses (evicts b); a hits; b misses again.
    assert model.calls == 4


@pytest.mark.parametrize("text", ["", "👽", "???", "   "])
def test_nothing_to_read_is_out_of_scope(tmp_path: Path, text: str) -> None:
    classifier, _ = _fit(tmp_path, "never")
    assert classifier.predict(text).best == ("out_of_scope", 1.0)


def test_sparse_row_matches_scikit_learn(tmp_path: Path) -> None:
    classifier, _ = _fit(tmp_path, "never")
    vectorizer = classifier._vectorizer
    assert vectorizer is not None
    row = _SparseRow.of(vectorizer)
    for text in ("gia bao nhieu", "xin chao chao", "unknown zzz words"):
        expected = vectorizer.transform([text]).toarray()[0]
        columns, values = row(text)
        mine = np.zeros_like(expected)
        mine[columns] = values
        assert np.allclose(mine, expected, atol=1e-6)


def test_threshold_separates_confident_from_out_of_scope() -> None:
    confidences = np.array([0.9, 0.8, 0.3, 0.2])
    is_oos = np.array([False, False, True, True])
    correct = ~is_oos
    threshold = tune_threshold(confidences, np.zeros(4, dtype=bool), is_oos, correct)
    assert threshold == pytest.approx(0.55)  # midway between 0.3 and 0.8
    # No out-of-scope examples: nothing to trade, never reject.
    assert tune_threshold(confidences, np.zeros(4, dtype=bool), ~correct & False, correct) == 0


def test_gate_is_the_cheapest_one_that_keeps_accuracy() -> None:
    gold = np.array([0, 0, 1, 1])
    # The fast branch is right when it is at least 0.7 sure; the full branch always is.
    fast = np.array([[0.95, 0.05], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8]])
    full = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.1, 0.9]])
    assert choose_gate(fast, full, gold) == pytest.approx(0.65)


@pytest.fixture(scope="module")
def shipped() -> BuiltinNLU:
    return BuiltinNLU()


def test_every_style_of_the_heldout_set(shipped: BuiltinNLU) -> None:
    """The shipped engine on messages it never saw, per writing style."""
    right: dict[str, list[bool]] = defaultdict(list)
    for example in read_nlu(heldout_data_path()).examples:
        predicted = shipped.parse(example.text).intent.name
        right[example.metadata["style"]].append(predicted == example.intent)
    accuracy = {style: sum(hits) / len(hits) for style, hits in right.items()}
    assert set(accuracy) == {"vi_diacritics", "vi_no_diacritics", "vi_shorthand", "en"}
    assert min(accuracy.values()) >= 0.88, accuracy
    overall = sum(sum(hits) for hits in right.values()) / sum(map(len, right.values()))
    assert overall >= 0.92, accuracy


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("cho mình dời buổi hẹn sang hôm khác", "reschedule_appointment"),
        ("cho minh doi buoi hen sang hom khac", "reschedule_appointment"),
        ("dời lịch giúp mik qua t5 đc ko", "reschedule_appointment"),
        ("could i move my booking to friday", "reschedule_appointment"),
        ("đừng gửi tin quảng cáo nữa", "opt_out"),
        ("dung gui tin quang cao nua", "opt_out"),
        ("đừng nt qc cho mik nữa", "opt_out"),
        ("stop sending me promotions", "opt_out"),
    ],
)
def test_one_intent_in_four_styles(shipped: BuiltinNLU, text: str, intent: str) -> None:
    assert shipped.parse(text).intent.name == intent


def test_embedding_share_stays_within_the_latency_budget(shipped: BuiltinNLU) -> None:
    """At ~10 ms an embedding, ≤ 3 ms a message on average needs ≤ ~1 in 4 to embed."""
    classifier = shipped.classifier
    texts = [example.text for example in read_nlu(heldout_data_path()).examples]
    share = sum(classifier.predict(text).used_embedding for text in texts) / len(texts)
    assert share <= 0.3


def test_saved_model_predicts_like_the_original(tmp_path: Path) -> None:
    classifier, model = _fit(tmp_path, "auto")
    classifier.gate = 0.9
    path = tmp_path / "model.npz"
    classifier.save(path)
    embedder = SentenceEmbedder(model=model, cache_dir=tmp_path)
    loaded = IntentClassifier.load(path, embedder=embedder)
    assert (loaded.classes, loaded.gate, loaded.threshold) == (
        classifier.classes,
        0.9,
        classifier.threshold,
    )
    for text in ("xin chào", "giá bao nhiêu", "ko cần đâu", "something else entirely"):
        assert loaded.predict(text) == classifier.predict(text)


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, meta=np.array('{"format": "something-else"}'))
    with pytest.raises(ValueError, match="not a stored intent classifier"):
        IntentClassifier.load(path)


def test_gate_never_sends_more_than_the_budget_to_the_embedding() -> None:
    gold = np.zeros(8, dtype=int)
    # The fast branch is wrong on every message it is unsure of (six of eight); the full
    # branch is always right. Accuracy alone would embed 6 of 8: the budget allows 2.
    fast = np.array([[0.9, 0.1]] * 2 + [[0.45, 0.55]] * 6)
    full = np.array([[0.9, 0.1]] * 8)
    gate = choose_gate(fast, full, gold)
    assert (fast.max(axis=1) < gate).mean() <= 0.25


@pytest.mark.parametrize("text", ["qwzx plimf trabb", "vrrbl snok gazz", "trabb", "xkcdtv", "zzz"])
def test_gibberish_is_out_of_scope(shipped: BuiltinNLU, text: str) -> None:
    assert shipped.parse(text).intent.name == "out_of_scope"


def test_a_lone_real_word_never_trained_on_is_still_understood(shipped: BuiltinNLU) -> None:
    """One unknown but word-like token goes to the embedding; it answers when very sure."""
    row = shipped.classifier._row
    assert row is not None and row.known_words("definitely") == (0, 1)
    assert shipped.parse("definitely").intent.name == "affirm"


@pytest.mark.parametrize(
    ("word", "plausible"),
    [("howdy", True), ("farewell", True), ("qwzx", False), ("xkcdtv", False), ("a1", False)],
)
def test_plausible_word(word: str, plausible: bool) -> None:
    from nlu.classifier import plausible_word

    assert plausible_word(word) is plausible
