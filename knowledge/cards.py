"""Service cards: one vector per service (name, keywords, opening summary) from a stronger model.

Why a third retriever: on Munich's real catalogue most wrong answers were the right *family* with
the wrong member ("PIN vom Personalausweis vergessen" → Personalausweis instead of "eID-Funktion
oder Änderung der PIN"; "Fahrzeugschein verloren" → "Internationaler Fahrzeugschein"). BM25 and the
passage vectors (USE) both see every passage of a big service repeat its name, so the service with
the most passages wins. A card says in one short text what the service *is*, including the words
the catalogue's editors put in its keywords ("Taxikonzession", "Halterauskunft"), and
multilingual-e5 reads a citizen's situation better than USE (on munich_dev, cards alone put the
right service first 51 % of the time, USE passages 45 %; fused with both, see README).

e5 embeds only about ten texts a second on our 2 cores, far too slow for every passage (1,563 for
Munich) but fine for one card per service (237 cards: about 25 s on a fresh machine, then cached by
content hash like every other vector). A question costs one e5 query, about 35 ms.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from knowledge.config import KnowledgeConfig as Settings
from knowledge.embeddings import Embedder, EmbeddingCache, get_embedder, unit_rows
from knowledge.models import Service

SUMMARY_CHARS = 300  # the opening of the summary says what the service is; the rest is procedure
CARDS_FILE = "cards.npz"


def card_text(service: Service) -> str:
    """What the card model reads: the name, the editors' keywords, the start of the summary."""
    parts = [service.title]
    if service.keywords:
        parts.append(", ".join(service.keywords))
    summary = (service.summary or "").strip()
    if summary:
        parts.append(summary[:SUMMARY_CHARS])
    return ". ".join(parts)


class ServiceCards:
    """Card vectors of all services of an index, ranked by exact cosine (ties by service id)."""

    def __init__(self, ids: list[str], matrix: np.ndarray, embedder: Embedder) -> None:
        self.ids = ids
        self.matrix = matrix
        self.embedder = embedder

    def embed_query(self, text: str) -> np.ndarray:
        return unit_rows(self.embedder.embed_query(text))

    def rank(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """Best services for a query vector as (service id, cosine), best first."""
        if not self.ids:
            return []
        sims = self.matrix @ vector
        order = np.lexsort((np.arange(len(self.ids)), -sims))[:limit]  # ids are sorted: ties by id
        return [(self.ids[i], float(sims[i])) for i in order]

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.index_dir / CARDS_FILE

    @classmethod
    def build(cls, settings: Settings, services: Iterable[Service]) -> ServiceCards | None:
        """Embed every service's card (only new or changed texts; the rest come from the cache) and save."""
        if settings.card_model == "off":
            return None
        embedder = get_embedder(settings.card_model, settings.embedding_threads)
        ordered = sorted(services, key=lambda s: s.id)
        texts = [card_text(s) for s in ordered]
        cache = EmbeddingCache(settings.data_dir / "cache" / f"embeddings-{embedder.name}.sqlite", embedder)
        try:
            matrix = cache.embed(texts)
        finally:
            cache.close()
        cards = cls([s.id for s in ordered], unit_rows(matrix), embedder)
        target = cls.path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cards-", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:  # a unique name: two processes may build at once
            np.savez(
                handle,
                ids=np.array(cards.ids, dtype=str),
                matrix=cards.matrix,
                model=np.array(_model_tag(embedder)),
                texts=np.array([EmbeddingCache.key(t) for t in texts], dtype=str),
            )
        os.replace(tmp, target)  # atomic, like state.json
        return cards

    @classmethod
    def load(cls, settings: Settings, services: Iterable[Service]) -> ServiceCards | None:
        """The saved cards if they are exactly these services' current cards by this model, else None.

        None (missing, unreadable, half-written, other services, a changed text, another model or
        model revision) means: build them again, which the embedding cache makes cheap.
        """
        if settings.card_model == "off":
            return None
        path = cls.path(settings)
        if not path.exists():
            return None
        embedder = get_embedder(settings.card_model, settings.embedding_threads)
        ordered = sorted(services, key=lambda s: s.id)
        try:
            with np.load(path) as data:
                ids = [str(i) for i in data["ids"]]
                matrix = np.asarray(data["matrix"], dtype=np.float32)
                model = str(data["model"])
                hashes = [str(h) for h in data["texts"]]
        except Exception:  # a truncated zip raises BadZipFile, EOFError, zlib.error …
            return None
        if (
            model != _model_tag(embedder)
            or ids != [s.id for s in ordered]
            or hashes != [EmbeddingCache.key(card_text(s)) for s in ordered]
            or matrix.shape != (len(ids), embedder.dim)
        ):
            return None
        return cls(ids, matrix, embedder)


def _model_tag(embedder: Embedder) -> str:
    return f"{embedder.name}@{getattr(embedder, 'revision', 1)}"
