"""The loaded knowledge index of one data directory: services, passages, BM25, Chroma, embedder.

State on disk (`<data_dir>/index/<model>/`): `state.json` (services and analysed passages with
content hashes), `chroma/` (vectors), `calibration.json` (confidence model) and the embedding
cache. Loading reads these and embeds no passage, so a query process starts in seconds; only the
service cards (`cards.npz`) are rebuilt on opening when missing or stale (from the embedding cache,
or about 25 s for Munich's catalogue on a machine that never embedded it).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.calibration import DEFAULT, Calibrator, retrieval_tag
from knowledge.cards import ServiceCards
from knowledge.chunking import lexical_text
from knowledge.config import KnowledgeConfig
from knowledge.embeddings import Embedder, EmbeddingCache, get_embedder, unit_rows
from knowledge.lexical import LexicalIndex
from knowledge.models import Passage, Service
from knowledge.out_of_scope import novelty_references
from knowledge.text import TypoCorrector, analyze_many, german_pipeline, lemmas, title_terms, title_words
from knowledge.vectorstore import VectorStore

# 2: -ung nouns also index their verb (text.verb_of_noun); 3: -ieren/-ären verbs right; 4: a separated
# particle joins only a verb of its own clause ("… auf und mach den Laden zu"); 5: a clause without a
# verb shares its sentence's, capitals say nothing in all-caps text; 6: a doubled space ends no
# sentence, only a verb already joined takes no second particle
STATE_VERSION = 6
# older versions whose services and passages are still valid: only their analysed terms are redone
REANALYSABLE_VERSIONS = frozenset({1, 2, 3, 4, 5})


class IndexUnavailableError(RuntimeError):
    """The index on disk is missing or unreadable; callers rebuild it from content."""


@dataclass
class IndexState:
    """What `state.json` holds: the source of truth that Chroma and BM25 are derived from."""

    services: dict[str, Service] = field(default_factory=dict)
    service_hashes: dict[str, str] = field(default_factory=dict)
    passages: dict[str, Passage] = field(default_factory=dict)
    passage_hashes: dict[str, str] = field(default_factory=dict)
    passage_terms: dict[str, list[str]] = field(default_factory=dict)
    reanalysed: bool = False  # terms were redone after an analyser upgrade: save it, refit calibration

    @classmethod
    def load(cls, path: Path) -> IndexState:
        """The saved state; one of an older analyser gets its passage terms redone (`reanalyse`).

        Starting from an empty state instead would leave the vector store and the other content
        roots of the old index behind, out of step with the state (KeyError in retrieval).
        """
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version = data.get("version")
            if version != STATE_VERSION and version not in REANALYSABLE_VERSIONS:
                raise IndexUnavailableError(f"index state {path} has unknown version {version!r}")
            state = cls(
                services={s["id"]: Service.model_validate(s) for s in data["services"]},
                service_hashes=dict(data["service_hashes"]),
                passages={p["id"]: Passage.model_validate(p) for p in data["passages"]},
                passage_hashes=dict(data["passage_hashes"]),
                passage_terms={k: list(v) for k, v in data["passage_terms"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexUnavailableError(f"index state {path} is unreadable: {exc}") from exc
        if version != STATE_VERSION:
            state.reanalyse()
        return state

    def reanalyse(self) -> None:
        """Redo every passage's BM25 terms with the current analyser (vectors stay valid)."""
        ids = [pid for pid, p in self.passages.items() if p.service_id in self.services]
        texts = [lexical_text(self.passages[pid], self.services[self.passages[pid].service_id]) for pid in ids]
        self.passage_terms = dict(zip(ids, analyze_many(texts), strict=True))
        self.reanalysed = True

    def canonicalise(self) -> None:
        """Order every table by id, in place.

        Insertion order records history: an incremental ingest re-adds the passages of a changed
        service at the end, a fresh one keeps the import order. Whatever iterates these tables
        (BM25's document order and its tie-breaking, the seeded sampling of calibration questions)
        must see the same order for the same content, so the index depends on the content only.
        """
        tables: tuple[dict[str, Any], ...] = (
            self.services,
            self.service_hashes,
            self.passages,
            self.passage_hashes,
            self.passage_terms,
        )
        for table in tables:
            ordered = sorted(table.items())
            table.clear()
            table.update(ordered)

    def save(self, path: Path) -> None:
        self.canonicalise()  # the same content writes the same file
        payload: dict[str, Any] = {
            "version": STATE_VERSION,
            "services": [s.model_dump(mode="json") for s in self.services.values()],
            "service_hashes": self.service_hashes,
            "passages": [p.model_dump(mode="json") for p in self.passages.values()],
            "passage_hashes": self.passage_hashes,
            "passage_terms": self.passage_terms,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False)
        os.replace(tmp, path)  # atomic: a crash mid-write never leaves a half index


class KnowledgeIndex:
    def __init__(
        self,
        settings: KnowledgeConfig,
        state: IndexState,
        vectors: VectorStore,
        embedder: Embedder,
        cards: ServiceCards | None = None,
    ) -> None:
        state.canonicalise()
        self.settings = settings
        self.services = state.services
        self.passages = state.passages
        self.vectors = vectors
        self.embedder = embedder
        self.cards = cards  # None: card retriever off (BUERGERBOT_CARD_MODEL=off)
        ids = list(state.passages)
        self.lexical = LexicalIndex(ids, [state.passage_terms.get(pid, []) for pid in ids])
        self.typos = TypoCorrector(self.lexical.vocabulary)
        self.title_terms = {sid: title_terms(s.title) for sid, s in self.services.items()}
        self.title_words = {sid: title_words(s.title) for sid, s in self.services.items()}
        self.service_terms: dict[str, set[str]] = {}
        document_frequency: Counter[str] = Counter()
        for pid, passage in state.passages.items():
            terms = set(state.passage_terms.get(pid, []))
            self.service_terms.setdefault(passage.service_id, set()).update(terms)
            document_frequency.update(terms)
        self._df = document_frequency
        self._n = max(1, len(state.passages))
        self.calibrator = Calibrator.load(self.calibration_path(settings), retrieval_tag(settings)) or DEFAULT
        self.needs_calibration = False  # the stored calibration is missing or stale (`open`)
        self._off_topic_vectors: np.ndarray | None = None
        self._cache: EmbeddingCache | None = None
        self._cache_lock = threading.Lock()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Vectors of content texts through the on-disk cache, so a text is embedded once per machine."""
        with self._cache_lock:
            if self._cache is None:
                name = f"embeddings-{self.embedder.name}.sqlite"
                self._cache = EmbeddingCache(self.settings.data_dir / "cache" / name, self.embedder)
            return self._cache.embed(texts) if texts else np.zeros((0, self.embedder.dim), np.float32)

    @property
    def off_topic_vectors(self) -> np.ndarray:
        """Unit vectors of the German out-of-scope questions (novelty, knowledge/confidence.py).

        Embedded on first use (about a hundred short questions, one batch) and kept for the process.
        Concurrent first calls may both embed; the result is the same, so no lock is needed.
        """
        if self._off_topic_vectors is None:
            questions = novelty_references()
            self._off_topic_vectors = (
                unit_rows(self.embedder.embed_queries(questions)) if questions else np.zeros((0, 1), np.float32)
            )
        return self._off_topic_vectors

    def idf(self, term: str) -> float:
        """BM25-style inverse document frequency; unknown words weigh most (they carry the question)."""
        df = self._df.get(term, 0)
        return math.log((self._n - df + 0.5) / (df + 0.5) + 1.0)

    @staticmethod
    def state_path(settings: KnowledgeConfig) -> Path:
        return settings.index_dir / "state.json"

    @staticmethod
    def calibration_path(settings: KnowledgeConfig) -> Path:
        return settings.index_dir / "calibration.json"

    @staticmethod
    def chroma_path(settings: KnowledgeConfig) -> Path:
        return settings.index_dir / "chroma"

    @classmethod
    def open(cls, settings: KnowledgeConfig) -> KnowledgeIndex:
        """Load the index; raises `IndexUnavailableError` if it is missing or its parts disagree."""
        path = cls.state_path(settings)
        if not path.exists():
            raise IndexUnavailableError(f"no index at {path}; run `buergerbot ingest`")
        state = IndexState.load(path)
        vectors = VectorStore(cls.chroma_path(settings), settings.embedding_model)
        if vectors.count() != len(state.passages):
            raise IndexUnavailableError(
                f"vector store has {vectors.count()} passages, state has {len(state.passages)}: rebuild needed"
            )
        if vectors.ids() != sorted(state.passages):  # also loads the vectors for exact search
            raise IndexUnavailableError("vector store and state hold different passages: rebuild needed")
        embedder = get_embedder(settings.embedding_model, settings.embedding_threads)
        cards = ServiceCards.load(settings, state.services.values())
        if cards is None and settings.card_model != "off":
            # an index from before cards existed, or cards of another model: build them now (cached vectors)
            cards = ServiceCards.build(settings, state.services.values())
        index = cls(settings, state, vectors, embedder, cards)
        if state.reanalysed:
            # the calibration was fitted on the old analysis: removed before the state is saved, so
            # whoever opens the index next (not only `load_index`) still sees it must be refitted
            cls.calibration_path(settings).unlink(missing_ok=True)
            state.save(path)
        # fitted for an older retrieval (after an upgrade): `knowledge.ingest.load_index` refits it
        index.needs_calibration = (
            state.reanalysed or Calibrator.load(cls.calibration_path(settings), retrieval_tag(settings)) is None
        )
        index.warm_up()
        return index

    def warm_up(self) -> None:
        """Load lazily built tables (lemmatizer dictionary, spaCy) before the first citizen waits."""
        german_pipeline()("Personalausweis beantragen")
        lemmas("Warmlaufen")
        self.embedder.embed_query("Aufwärmen")
        if self.cards is not None:
            self.cards.embed_query("Aufwärmen")
        _ = self.off_topic_vectors
