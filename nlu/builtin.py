"""The built-in NLU engine: intents from a classifier trained at start-up, plus entities.

Training reads Rasa 3 NLU YAML (the shipped `nlu/data/vi.yml` and `nlu/data/en.yml` unless
another file is given), so a tenant's own data, or a public benchmark, trains a fresh engine
the same way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path

import numpy as np
import sklearn

from nlu import classifier as classifier_module
from nlu import text as text_module
from nlu.classifier import OUT_OF_SCOPE, STORE_FORMAT, EmbeddingMode, IntentClassifier
from nlu.embedding import MODEL_ID, SentenceEmbedder, default_cache_dir
from nlu.entities import EntityExtractor
from nlu.rasa_yaml import NluData, merge, read_nlu
from nlu.text import detect_language
from nlu.types import IntentScore, ParseResult

log = logging.getLogger(__name__)

MAX_RANKING = 10


# Fitted models of this process by training key; a classifier is read-only once fitted.
_SHARED: dict[str, _SharedModel] = {}
_FITTING = threading.Lock()
# Set (to anything but "0"/"") to train the embedding branch before the constructor returns.
BLOCKING_ENV = "OMNICRM_NLU_BLOCKING_START"


class _SharedModel:
    """The classifier for one training set: usable at once, upgraded when its full one is ready.

    A cold start (no cached model) must not wait several seconds for the embeddings of every
    training example, so it serves a TF-IDF-only classifier (trained in well under a second)
    while a background thread trains the fused one; the swap is one attribute assignment, so a
    parse sees either model whole, never a mix.
    """

    def __init__(self, classifier: IntentClassifier, *, ready: bool) -> None:
        self.classifier = classifier
        self.ready = threading.Event()
        self.error: BaseException | None = None
        if ready:
            self.ready.set()

    def upgrade_in_background(self, train: Callable[[], IntentClassifier]) -> None:
        def work() -> None:
            started = time.perf_counter()
            try:
                self.classifier = train()
                log.info(
                    "built-in NLU: embedding branch ready after %.1f s",
                    time.perf_counter() - started,
                )
            except Exception as exc:  # keep serving the fast branch rather than dying
                self.error = exc
                log.exception("built-in NLU: training the embedding branch failed")
            finally:
                self.ready.set()

        threading.Thread(target=work, name="nlu-embedding-training", daemon=True).start()


def _training_key(data: NluData, embeddings: EmbeddingMode) -> str:
    """Changes whenever the data, the mode, the feature code or the libraries change."""
    digest = hashlib.sha256()
    for part in (STORE_FORMAT, MODEL_ID, sklearn.__version__, np.__version__, embeddings):
        digest.update(part.encode() + b"\0")
    for module in (text_module, classifier_module):  # their code defines the features
        digest.update(Path(str(module.__file__)).read_bytes())
    for example in data.examples:
        digest.update(f"{example.intent}\t{example.text}".encode() + b"\0")
    return digest.hexdigest()[:32]


def _blocking_default() -> bool:
    return os.environ.get(BLOCKING_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _trained(
    data: NluData,
    embeddings: EmbeddingMode,
    embedder: SentenceEmbedder | None,
    *,
    reuse: bool,
    background: bool,
) -> _SharedModel:
    """A classifier fitted on `data`: from memory, from the disk cache, or trained now.

    With `background` (and "auto" embeddings) a cold start returns a fast-branch-only model at
    once and trains the full one in a thread; otherwise everything is trained before returning.
    """
    texts = [example.text for example in data.examples]
    intents = [example.intent for example in data.examples]
    # A caller's own embedder defines the vectors, so its model is not shared.
    if embedder is not None or not reuse:
        fitted = IntentClassifier(embedder=embedder, embeddings=embeddings).fit(texts, intents)
        return _SharedModel(fitted, ready=True)
    key = _training_key(data, embeddings)
    path = default_cache_dir() / f"intents-{key}.npz"

    def train_full() -> IntentClassifier:
        classifier = IntentClassifier(embeddings=embeddings).fit(texts, intents)
        _store(classifier, path)
        return classifier

    with _FITTING:
        shared = _SHARED.get(key)
        if shared is None:
            cached = _load(path, embeddings)
            if cached is not None:
                shared = _SharedModel(cached, ready=True)
            elif background and embeddings == "auto":
                fast = IntentClassifier(embeddings="never", quick=True).fit(texts, intents)
                shared = _SharedModel(fast, ready=False)
                shared.upgrade_in_background(train_full)
            else:
                shared = _SharedModel(train_full(), ready=True)
            _SHARED[key] = shared
    if not background:
        shared.ready.wait()  # another instance may have started it in the background
    return shared


def _load(path: Path, embeddings: EmbeddingMode) -> IntentClassifier | None:
    if not path.exists():
        return None
    try:
        embedder = None if embeddings == "never" else SentenceEmbedder()
        return IntentClassifier.load(path, embedder=embedder)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("retraining: cannot read the cached model %s (%s)", path, exc)
        return None


def _store(classifier: IntentClassifier, path: Path) -> None:
    """Atomic write; failing to cache only costs the next start-up its training time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        classifier.save(partial)
        partial.replace(path)
    except OSError as exc:
        log.warning("could not cache the fitted intent model in %s: %s", path.parent, exc)


TRAINING_FILES = ("vi.yml", "en.yml")


def default_data_paths() -> tuple[Path, ...]:
    """The training data shipped inside the package: Vietnamese (all styles), then English."""
    return tuple(
        Path(str(resources.files("nlu").joinpath("data", name))) for name in TRAINING_FILES
    )


def shipped_training_data() -> NluData:
    """Both shipped training files as one data set, as Rasa reads a data directory."""
    return merge(read_nlu(path) for path in default_data_paths())


def heldout_data_path() -> Path:
    """The shipped evaluation data, never trained on."""
    return Path(str(resources.files("nlu").joinpath("data", "heldout.yml")))


class BuiltinNLU:
    """Intent classifier + entity extractor behind Rasa's `/model/parse` shape."""

    def __init__(
        self,
        *,
        data_path: Path | None = None,
        data: NluData | None = None,
        threshold: float | None = None,
        default_language: str = "vi",
        entities: EntityExtractor | None = None,
        embeddings: EmbeddingMode = "auto",
        embedder: SentenceEmbedder | None = None,
        reuse: bool = True,
        background: bool | None = None,
    ) -> None:
        """Train on `data`, or the YAML at `data_path`, or the shipped data.

        `threshold` overrides the out-of-scope confidence threshold tuned on the training
        data; `embeddings` is "auto" (only when the fast branch is unsure), "always" (most
        accurate, ~10 ms a message) or "never". Unless `reuse` is off, a model fitted on the
        same data is reused: from this process, or from the cache directory (see
        `nlu.embedding`); the training-set embeddings are cached there either way.

        `background` (default: on unless OMNICRM_NLU_BLOCKING_START is set): when no model is
        cached, start with the fast branch alone and train the embedding branch in a thread
        (`wait_ready` blocks until it is in use); off trains everything before returning.
        """
        started = time.perf_counter()
        training = data if data is not None else _read_training(data_path)
        if not training.examples:
            raise ValueError("no intent examples in the training data")
        self._default_language = default_language
        self._entities = entities if entities is not None else EntityExtractor()
        self._threshold = threshold
        if background is None:
            background = not _blocking_default()
        self._model = _trained(training, embeddings, embedder, reuse=reuse, background=background)
        self.intents: tuple[str, ...] = tuple(
            sorted({*self._model.classifier.classes, OUT_OF_SCOPE})
        )
        self.training_seconds = time.perf_counter() - started
        log.info(
            "built-in NLU trained on %d examples, %d intents in %.2f s%s",
            len(training.examples),
            len(self.intents),
            self.training_seconds,
            "" if self.ready else "; embedding branch training in the background",
        )

    @property
    def ready(self) -> bool:
        """Whether the full model (embedding branch included, when asked for) is in use."""
        return self._model.ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the background training is over (True), or the timeout passes."""
        return self._model.ready.wait(timeout)

    @property
    def classifier(self) -> IntentClassifier:
        """The intent classifier in use now (the fast one until the full one is ready)."""
        return self._model.classifier

    @property
    def threshold(self) -> float:
        """Confidence below which a message is out of scope."""
        return self._model.classifier.threshold if self._threshold is None else self._threshold

    @property
    def embedding_calls(self) -> int:
        """How many messages needed a sentence embedding computed so far."""
        return self._model.classifier.embeddings_computed

    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        """Intent ranking, entities (dates resolved against `now`) and language of a message."""
        classifier = self._model.classifier  # one read: the background swap is atomic
        prediction = classifier.predict(text, threshold=self._threshold)
        ranking = tuple(
            IntentScore(name, round(confidence, 4))
            for name, confidence in prediction.ranking[:MAX_RANKING]
        )
        return ParseResult(
            text=text,
            intent=ranking[0],
            intent_ranking=ranking,
            entities=tuple(self._entities.extract(text, now=now)),
            language=detect_language(text, default=self._default_language),
        )


def _read_training(path: Path | None) -> NluData:
    return read_nlu(path) if path is not None else shipped_training_data()
