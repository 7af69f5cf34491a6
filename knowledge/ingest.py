"""Incremental ingestion: content hashes decide what is re-analysed and re-embedded.

An ingest run of a path replaces what the previous run of the same path produced: services that
disappeared from it are removed, changed ones re-indexed, unchanged ones left alone. Broken files
are reported with path and reason and never stop the run.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.calibration import Calibrator, retrieval_tag
from knowledge.cards import ServiceCards
from knowledge.chunking import dense_text, lexical_text, service_passages
from knowledge.confidence import fit
from knowledge.config import KnowledgeConfig
from knowledge.embeddings import EmbeddingCache, get_embedder
from knowledge.guard import remove_planted_instructions
from knowledge.importers import load_path
from knowledge.importers.base import ImportFailure, oversized_reason
from knowledge.index import IndexState, IndexUnavailableError, KnowledgeIndex
from knowledge.models import Service
from knowledge.text import analyze_many
from knowledge.vectorstore import VectorStore, forget_clients

ProgressHook = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[ImportFailure] = field(default_factory=list)
    skipped: list[ImportFailure] = field(default_factory=list)
    passages_embedded: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "failed": [{"path": f.path, "line": f.line, "reason": f.reason} for f in self.failed],
            "skipped": [{"path": f.path, "reason": f.reason} for f in self.skipped],
            "passages_embedded": self.passages_embedded,
            "seconds": round(self.seconds, 2),
        }


_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-cards")


def _roots_path(settings: KnowledgeConfig) -> Path:
    return settings.index_dir / "roots.json"


def _load_roots(settings: KnowledgeConfig) -> dict[str, list[str]]:
    path = _roots_path(settings)
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def ingest(
    settings: KnowledgeConfig,
    path: Path,
    fmt: str = "auto",
    progress: ProgressHook | None = None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    imported = load_path(path, fmt)
    report.failed.extend(imported.failures)
    report.skipped.extend(imported.skipped)

    state_path = KnowledgeIndex.state_path(settings)
    try:
        state = IndexState.load(state_path)
    except IndexUnavailableError:
        state = IndexState()
    roots = _load_roots(settings)
    root_key = str(path.resolve())

    incoming: dict[str, Service] = {}
    for service in imported.services:
        service, planted = remove_planted_instructions(service)
        for sentence in planted:  # reported, so an editor can see and fix the source
            reason = f"Satz nicht übernommen, er richtet sich als Anweisung an den Assistenten: „{sentence[:120]}“"
            report.skipped.append(ImportFailure(service.origin or str(path), reason))
        oversized = oversized_reason(service)
        if oversized:  # the analysis refuses over-long texts (spaCy E088): report the file, ingest the rest
            report.failed.append(ImportFailure(service.origin or str(path), oversized))
            continue
        if service.id in incoming:
            report.failed.append(ImportFailure(service.origin or str(path), f"doppelte ID '{service.id}'"))
            continue
        incoming[service.id] = service

    for service_id in roots.get(root_key, []):
        if service_id not in incoming and service_id in state.services:
            report.removed.append(service_id)
    for service_id in report.removed:
        state.services.pop(service_id, None)
        state.service_hashes.pop(service_id, None)

    to_index: list[Service] = []
    for service_id, service in incoming.items():
        digest = service.content_hash()
        previous = state.service_hashes.get(service_id)
        if previous == digest:
            report.unchanged.append(service_id)
            continue
        (report.changed if previous else report.added).append(service_id)
        state.services[service_id] = service
        state.service_hashes[service_id] = digest
        to_index.append(service)

    vectors = VectorStore(KnowledgeIndex.chroma_path(settings), settings.embedding_model)
    embedder = get_embedder(settings.embedding_model, settings.embedding_threads)

    # passages of touched services are rebuilt; passages of removed services deleted
    touched = {s.id for s in to_index} | set(report.removed)
    stale = [pid for pid, p in state.passages.items() if p.service_id in touched]
    fresh = [p for s in to_index for p in service_passages(s)]
    fresh_ids = {p.id for p in fresh}
    obsolete = [pid for pid in stale if pid not in fresh_ids]
    for pid in stale:
        state.passages.pop(pid, None)
        state.passage_hashes.pop(pid, None)
        state.passage_terms.pop(pid, None)
    vectors.delete(obsolete)

    # the service cards are embedded by the other core while this one embeds passages (they need only
    # the services): on 2 cores a fresh ingest of Munich's catalogue takes ~10 s less
    current_cards = ServiceCards.load(settings, state.services.values())  # None when off, missing or stale
    pending_cards: Future[ServiceCards | None] | None = None
    if current_cards is None and settings.card_model != "off":
        if progress:
            progress("cards", 0, len(state.services))
        pending_cards = _BACKGROUND.submit(ServiceCards.build, settings, list(state.services.values()))
    elif settings.card_model == "off":
        ServiceCards.path(settings).unlink(missing_ok=True)  # would be stale when cards are switched on again

    if fresh:
        services = state.services
        terms = analyze_many([lexical_text(p, services[p.service_id]) for p in fresh])
        cache = EmbeddingCache(settings.data_dir / "cache" / f"embeddings-{embedder.name}.sqlite", embedder)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, len(fresh))

        matrix = cache.embed([dense_text(p) for p in fresh], progress=tick)
        cache.close()
        vectors.upsert(
            [p.id for p in fresh],
            matrix,
            [{"service_id": p.service_id, "section": p.section.value} for p in fresh],
        )
        for passage, passage_terms in zip(fresh, terms, strict=True):
            state.passages[passage.id] = passage
            state.passage_hashes[passage.id] = passage.content_hash()
            state.passage_terms[passage.id] = passage_terms
        report.passages_embedded = len(fresh)

    cards = pending_cards.result() if pending_cards is not None else current_cards
    if pending_cards is not None and progress:
        progress("cards", len(state.services), len(state.services))
    calibrator = Calibrator.load(KnowledgeIndex.calibration_path(settings), retrieval_tag(settings))
    if to_index or report.removed or calibrator is None or state.reanalysed:
        index = KnowledgeIndex(settings, state, vectors, embedder, cards)
        if progress:
            progress("calibrate", 0, 1)
        fit(index).save(KnowledgeIndex.calibration_path(settings))
        if progress:
            progress("calibrate", 1, 1)
    state.save(state_path)
    roots[root_key] = sorted(incoming)
    _roots_path(settings).write_text(json.dumps(roots, indent=1))
    report.seconds = time.perf_counter() - started
    return report


def reset_index(settings: KnowledgeConfig) -> None:
    """Drop the derived index (not the embedding cache), e.g. when it is found corrupted."""
    forget_clients()
    shutil.rmtree(settings.index_dir, ignore_errors=True)


def load_index(settings: KnowledgeConfig) -> KnowledgeIndex:
    """Open the index; a calibration fitted for an older retrieval (after an upgrade) is refitted now.

    The refit lives here, not in `KnowledgeIndex.open`, because fitting runs retrieval, which reads
    the index: the index stays below retrieval and confidence.
    """
    index = KnowledgeIndex.open(settings)
    if index.needs_calibration:
        index.calibrator = fit(index)
        index.calibrator.save(KnowledgeIndex.calibration_path(settings))
        index.needs_calibration = False
    return index


def ensure_index(settings: KnowledgeConfig, progress: ProgressHook | None = None) -> KnowledgeIndex:
    """Open the index, building it from the configured content when missing or corrupted."""
    try:
        return load_index(settings)
    except Exception:
        reset_index(settings)
        ingest(settings, settings.content_dir, progress=progress)
        return load_index(settings)
