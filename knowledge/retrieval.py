"""Hybrid retrieval: BM25 + passage vectors + service cards, fused by reciprocal rank per service.

The parts fail differently: BM25 misses paraphrases and English questions, passage vectors (USE)
blur similar services ("Reisepass" vs "Kinderreisepass"), and both favour a big service whose
every passage repeats its name. The service cards (`knowledge/cards.py`: one multilingual-e5 vector
per service from its name, keywords and summary) say what each service *is*. Each retriever ranks
services (its passages aggregated per service, so a service matching in several sections beats one
stray sentence), and reciprocal rank fusion combines the three rankings without calibrating their
scores against each other. `CARD_RRF_K` is small so a service that two retrievers put first wins
over one that all three put second or third (on munich_dev: hit@1 0.55 → 0.62; README).

Without cards (`BUERGERBOT_CARD_MODEL=off`) the passages of both retrievers are fused first and
then aggregated, the design before cards, which did better than service-level fusion of only two.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from knowledge.calibration import NOVELTY
from knowledge.chunking import overview_id
from knowledge.embeddings import unit_rows
from knowledge.models import Passage
from knowledge.text import (
    STOPWORDS,
    analyze,
    analyze_expanded,
    detect_language,
    german_for,
    is_dictionary_word,
    is_german_word,
    lemmas,
    normalize,
    synonym_table,
)

if TYPE_CHECKING:
    from knowledge.index import KnowledgeIndex

System = Literal["hybrid", "bm25", "dense"]
SERVICE_WEIGHTS = (1.0, 0.35, 0.15)  # best, second and third passage of a service
TITLE_BOOST = 0.25  # score × (1 + 0.25 × share of the service name the question uses)
CARD_RRF_K = 5  # reciprocal rank constant when fusing the three service rankings (see module doc)
# The first few services get their score raised by how well their own best line answers the
# question (`AnswerEvidence`): score × (1 + EVIDENCE_BOOST × best line score). README, "What moved".
EVIDENCE_CANDIDATES = 6
EVIDENCE_BOOST = 0.3
# A candidate whose name says what sets it apart from its siblings, when the question does not,
# scores × (1 - SIBLING_PENALTY) (`weigh_siblings`). README, "What moved".
SIBLING_PENALTY = 0.15


# How well each service's own text answers the question: (question, service ids, query terms, query
# vector) → its best answer line's score per service. `knowledge.extraction.LineScorer.best_scores`,
# which sits above retrieval; the answerer hands it in.
AnswerEvidence = Callable[[str, list[str], list[str], np.ndarray | None], dict[str, float]]


@dataclass(frozen=True)
class ScoredPassage:
    passage: Passage
    score: float


@dataclass
class ServiceHit:
    service_id: str
    score: float
    passages: list[ScoredPassage] = field(default_factory=list)


@dataclass
class Retrieval:
    """Ranked services plus the evidence signals the confidence model reads."""

    hits: list[ServiceHit]
    features: dict[str, float]
    query_terms: list[str]
    query_vector: np.ndarray | None = None  # reused to pick answer lines, so the question is embedded once

    @property
    def top(self) -> ServiceHit | None:
        return self.hits[0] if self.hits else None


@dataclass
class QueryAnalysis:
    terms: list[str]  # after typo correction and synonym expansion: what BM25 searches
    content_terms: list[str]  # the question's own words (normalised lemmas), before expansion
    known_share: float  # share of the question's own words that the content knows
    text: str = ""  # the question with its typos corrected: what the embedder reads
    official: tuple[str, ...] = ()  # official words for the question's colloquial ones ("perso" → personalausweis)

    @property
    def card_text(self) -> str:
        """What the card model reads: the question plus the official words, which the cards use."""
        extra = [word for word in self.official if word not in self.text.lower()]
        return f"{self.text} ({', '.join(extra)})" if extra else self.text


_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def corrected_question(index: KnowledgeIndex, question: str) -> str:
    """The question with unknown words replaced by the known word they most likely meant.

    "wie melde ich mein audo ab" becomes "… mein auto ab", so the synonyms ("auto" → "fahrzeug") and
    the vector read the question the citizen meant, not a different service family.
    """

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        folded = normalize(word)
        if len(folded) < 4 or folded in STOPWORDS or folded in index.typos or is_dictionary_word(word):
            return word
        if any(lemma in index.typos for lemma in lemmas(word)):
            return word  # an inflected form of a known word
        fixed = index.typos.correct(folded)
        return fixed if fixed and fixed != folded else word

    return _TOKEN.sub(fix, question)


def analyze_query(index: KnowledgeIndex, question: str) -> QueryAnalysis:
    own = list(dict.fromkeys(analyze(question, expand=False)))
    text = corrected_question(index, question)
    expanded_terms, official = analyze_expanded(text)
    expanded = list(dict.fromkeys(expanded_terms))
    # words as written that the dictionary knows ("Käse") are no typos, also in their folded form ("kaese")
    real = {
        term for word in _TOKEN.findall(question) if is_dictionary_word(word) for term in analyze(word, expand=False)
    }
    corrected = index.typos.correct_terms(expanded, keep=real)
    vocabulary = index.lexical.vocabulary  # every term of the content (the typo list skips words under 4 letters)
    # English words the content does not know reach it through the learned English-German table; in a
    # German question only words that are no German words: "Amt" is English to nobody, but the table
    # (learned from parallel pages that say "BAföG-Amt" in both languages) maps "amt" to Ausbildungsförderung
    english = detect_language(question) == "en"
    translated = {
        t: [g for g in german_for(t) if g in vocabulary]
        for t in own
        if t not in vocabulary and (english or not is_german_word(t))
    }
    corrected += [g for t in expanded if t in translated for g in translated[t]]
    corrected += compound_synonyms(own, vocabulary)
    own = [translated[t][0] if translated.get(t) else t for t in own]
    # words the index does not know, but whose corrected form it does, count as known
    known = [t for t in own if t in vocabulary or (t not in real and index.typos.correct(t))]
    share = len(known) / len(own) if own else 0.0
    return QueryAnalysis(
        terms=list(dict.fromkeys(corrected)), content_terms=own, known_share=share, text=text, official=official
    )


MIN_SYNONYM_PART = 3  # "kfz" in "Kfz-Schein"; "id" is too short to be a compound part
MIN_COMPOUND_REST = 3  # what the synonym is joined with is a word ("neu" in "Neuwagen"), not an ending ("-en")


def compound_synonyms(terms: list[str], vocabulary: Collection[str]) -> list[str]:
    """Compounds of the content that a question's compound means, one part replaced by its synonym.

    The synonym table maps words ("kfz" → fahrzeug, "pass" → reisepass), but citizens write them
    inside compounds the content spells with the official part: "Kfz-Schein" is the content's
    "Fahrzeugschein", "Zweitpass" its "Zweitreisepass", "Fahrerlaubnisentzug" its
    "Führerscheinentzug". Only a compound the content itself uses counts, so no new word is invented; as
    with the table's own words, the compound as written keeps counting too.
    """
    table = synonym_table()
    found: list[str] = []
    for term in terms:
        for key, values in table.items():
            if len(key) < MIN_SYNONYM_PART or key == term:
                continue
            if term.startswith(key) and len(term) - len(key) >= MIN_COMPOUND_REST:
                candidates = [value + term[len(key) :] for value in values]
            elif term.endswith(key) and len(term) - len(key) >= MIN_COMPOUND_REST:
                candidates = [term[: -len(key)] + value for value in values]
            else:
                continue
            found.extend(c for c in candidates if c in vocabulary and c not in found)
    return found


def _rank_services(index: KnowledgeIndex, scored: list[tuple[str, float]], limit: int) -> list[ServiceHit]:
    grouped: dict[str, list[ScoredPassage]] = defaultdict(list)
    for pid, score in scored:
        passage = index.passages.get(pid)
        if passage is not None and passage.service_id in index.services:
            grouped[passage.service_id].append(ScoredPassage(passage, score))
    hits = []
    for service_id, items in grouped.items():
        items.sort(key=lambda sp: sp.score, reverse=True)
        total = sum(w * sp.score for w, sp in zip(SERVICE_WEIGHTS, items, strict=False))
        hits.append(ServiceHit(service_id, total, items))
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[:limit]


def _fuse_services(
    index: KnowledgeIndex,
    lexical: list[tuple[str, float]],
    dense: list[tuple[str, float]],
    cards: list[tuple[str, float]],
) -> list[ServiceHit]:
    """Reciprocal rank fusion of three service rankings (see the module doc)."""
    by_lexical = _rank_services(index, lexical, len(lexical))
    by_dense = _rank_services(index, dense, len(dense))
    fused: dict[str, float] = defaultdict(float)
    for ranking in ([h.service_id for h in by_lexical], [h.service_id for h in by_dense], [s for s, _ in cards]):
        for rank, service_id in enumerate(ranking):
            fused[service_id] += 1.0 / (CARD_RRF_K + rank + 1)
    # a hit's passages (what the LangChain retriever returns) in passage-level fusion order
    fused_passages = _rrf([lexical, dense], index.settings.rrf_k)
    evidence = {h.service_id: h.passages for h in _rank_services(index, fused_passages, len(fused_passages))}
    hits = [
        ServiceHit(service_id, score, evidence.get(service_id) or _overview(index, service_id))
        for service_id, score in fused.items()
        if service_id in index.services
    ]
    hits.sort(key=lambda h: (-h.score, h.service_id))
    return hits


def _overview(index: KnowledgeIndex, service_id: str) -> list[ScoredPassage]:
    """A service only the cards found still shows a passage (LangChain's documents): its overview."""
    passage = index.passages.get(overview_id(service_id))
    return [ScoredPassage(passage, 0.0)] if passage is not None else []


def _rrf(rankings: list[list[tuple[str, float]]], k: int) -> list[tuple[str, float]]:
    fused: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, (pid, _score) in enumerate(ranking):
            fused[pid] += 1.0 / (k + rank + 1)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


def _title_match(index: KnowledgeIndex, service_id: str, terms: list[str]) -> float:
    """Share of the service's name words the question uses (a strong, cheap signal)."""
    title_terms = index.title_terms.get(service_id, set())
    if not title_terms:
        return 0.0
    return len(title_terms.intersection(terms)) / len(title_terms)


def retrieve(
    index: KnowledgeIndex,
    question: str,
    system: System = "hybrid",
    limit: int = 10,
    query_vector: np.ndarray | None = None,
    evidence: AnswerEvidence | None = None,
) -> Retrieval:
    """Rank services for a question with one of our systems (the baselines share all plumbing).

    With `evidence` (hybrid only), the first `EVIDENCE_CANDIDATES` services are re-weighed by how well
    a line of their own text answers the question. Families of near-duplicates share their names
    and most of their words ("Fundsache abholen" / "Verlorenes Fahrrad besichtigen und abholen");
    what tells them apart is often one sentence ("Fahrräder werden dienstags … gezeigt"), which the
    passage retrievers dilute and the answer-line scorer reads directly. Before that, a family
    member whose name sets it apart by words the question does not use steps back a little
    (`weigh_siblings`).
    """
    k = index.settings.retrieval_candidates
    query = analyze_query(index, question)
    lexical = index.lexical.query(query.terms, k) if system in ("hybrid", "bm25") else []
    dense: list[tuple[str, float]] = []
    vector: np.ndarray | None = None
    if system in ("hybrid", "dense"):
        vector = query_vector if query_vector is not None else index.embedder.embed_query(query.text or question)
        dense = index.vectors.query(vector, k)
    cards: list[tuple[str, float]] = []
    if system == "bm25":
        hits = _rank_services(index, lexical, limit * 3)
    elif system == "dense":
        hits = _rank_services(index, dense, limit * 3)
    elif index.cards is not None:
        cards = index.cards.rank(index.cards.embed_query(query.card_text or question), k)
        hits = _fuse_services(index, lexical, dense, cards)
    else:
        hits = _rank_services(index, _rrf([lexical, dense], index.settings.rrf_k), limit * 3)
    if system == "hybrid" and TITLE_BOOST:
        # a question that uses the service's own name is strong evidence (field boost on the title)
        for hit in hits:
            hit.score *= 1.0 + TITLE_BOOST * _title_match(index, hit.service_id, query.terms)
        hits.sort(key=lambda h: h.score, reverse=True)
    if system == "hybrid" and hits:
        # only catalogue entries: web pages are named by topic, and their shared words make no family
        # (OMoS-QA German dev, end to end: 0.365 with pages included → 0.348)
        entries = [h for h in hits[:EVIDENCE_CANDIDATES] if not index.services[h.service_id].is_web_page]
        weigh_siblings(index.title_terms, entries, query.terms)
        hits.sort(key=lambda h: h.score, reverse=True)
    if system == "hybrid" and evidence is not None and hits:
        candidates = hits[:EVIDENCE_CANDIDATES]
        found = evidence(question, [h.service_id for h in candidates], query.terms, vector)
        for hit in candidates:
            hit.score *= 1.0 + EVIDENCE_BOOST * found.get(hit.service_id, 0.0)
        hits.sort(key=lambda h: h.score, reverse=True)
    hits = hits[:limit]
    features = _features(index, hits, lexical, dense, query, cards)
    if vector is not None and len(index.off_topic_vectors):
        nearest_off_topic = float((index.off_topic_vectors @ unit_rows(vector)).max())
        features[NOVELTY] = features["dense_top"] - nearest_off_topic
    return Retrieval(hits=hits, features=features, query_terms=query.terms, query_vector=vector)


def weigh_siblings(names: dict[str, set[str]], candidates: list[ServiceHit], terms: list[str]) -> None:
    """Lower a candidate whose name says what sets it apart from its siblings, when the question does not.

    Families of near-duplicates share most of their name ("Personalausweis", "Verlust oder
    Diebstahl Personalausweis", "Abholung Personalausweis, …"); the passage retrievers and the cards
    rank them almost alike, and a big member often wins on words all of them use. Among the first
    candidates, a service's *distinctive* name words are those no sibling (a candidate sharing a
    name word with it) has. A service with distinctive words of which the question uses none is
    the less likely member: "Was kostet der Perso?" asks for the Personalausweis, not its loss.
    The factor is small, a tie-breaker: citizens also describe the distinction in their own words
    ("Perso weg"), which the cards and the answer evidence read.
    """
    asked = set(terms)
    for hit in candidates:
        own = names.get(hit.service_id, set())
        siblings = [names.get(other.service_id, set()) for other in candidates if other is not hit]
        family = [name for name in siblings if name & own]
        if not family:
            continue
        distinctive = own.difference(*family)
        if distinctive and not distinctive & asked:
            hit.score *= 1.0 - SIBLING_PENALTY


def _service_order(index: KnowledgeIndex, ranking: list[tuple[str, float]]) -> list[str]:
    order: list[str] = []
    for pid, _ in ranking:
        passage = index.passages.get(pid)
        if passage and passage.service_id not in order:
            order.append(passage.service_id)
    return order


def coverage(index: KnowledgeIndex, service_id: str, terms: list[str]) -> float:
    """IDF-weighted share of the question's words that the service's text contains.

    Out-of-scope questions ("Hauptstadt von Australien") are mostly made of words the service
    does not use; in-scope ones share their rare, meaningful words with it.
    """
    if not terms:
        return 0.0
    vocabulary = index.service_terms.get(service_id, set())
    synonyms = synonym_table()
    total = covered = 0.0
    for term in terms:
        corrected = term if term in vocabulary else (index.typos.correct(term) or term)
        weight = index.idf(corrected)
        total += weight
        if corrected in vocabulary or any(s in vocabulary for s in synonyms.get(corrected, ())):
            covered += weight
    return covered / total if total else 0.0


def _features(
    index: KnowledgeIndex,
    hits: list[ServiceHit],
    lexical: list[tuple[str, float]],
    dense: list[tuple[str, float]],
    query: QueryAnalysis,
    cards: list[tuple[str, float]] | None = None,
) -> dict[str, float]:
    """Evidence for the confidence model; all continuous, so calibration can weigh them smoothly."""
    top = hits[0].service_id if hits else None
    first = hits[0].score if hits else 0.0
    second = hits[1].score if len(hits) > 1 else 0.0
    dense_top = dense[0][1] if dense else 0.0
    dense_other = next(
        (score for pid, score in dense if pid in index.passages and index.passages[pid].service_id != top), 0.0
    )
    lexical_order = _service_order(index, lexical)
    dense_order = _service_order(index, dense)
    covered = coverage(index, top, query.content_terms) if top else 0.0
    return {
        "dense_top": float(dense_top),
        "dense_gap": float(max(0.0, dense_top - dense_other)) if top else 0.0,
        "bm25_top": float(np.log1p(lexical[0][1])) if lexical else 0.0,
        "known_share": float(query.known_share),
        "coverage": covered,
        "lexical_rank": 1.0 / (lexical_order.index(top) + 1) if top in lexical_order else 0.0,
        "dense_rank": 1.0 / (dense_order.index(top) + 1) if top in dense_order else 0.0,
        "margin": float((first - second) / first) if first > 0 else 0.0,
        "title_match": _title_match(index, top, query.terms) if top else 0.0,
        "card_rank": _card_rank(cards, top),
        "card_top": float(cards[0][1]) if cards else 0.0,  # for the scope model (confidence.py)
    }


def _card_rank(cards: list[tuple[str, float]] | None, top: str | None) -> float:
    """1 / rank of the chosen service among the cards (0: not among them, or no cards)."""
    for rank, (service_id, _score) in enumerate(cards or []):
        if service_id == top:
            return 1.0 / (rank + 1)
    return 0.0
