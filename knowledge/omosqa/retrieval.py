"""Page retrieval: BM25 over our analysed terms (title weighted) fused with dense page vectors.

BM25 finds pages that share the question's rare nouns; dense vectors find paraphrases and carry
English questions to German pages. Each page gets a handful of scores (BM25, best line, best three
lines, title, title-plus-opening) from each model; a per-language linear ranker learned on the
training questions weighs them. On the German dev split reciprocal-rank fusion of BM25, e5 and USE
reached hit@1 0.42 / hit@5 0.74, the learned ranker 0.47 / 0.78; pairwise training and a
gradient-boosted ranker were not better.

English questions share few words with German pages, so their terms also go through a lexicon
learned from the parallel training contexts (`lexicon.py`) into a second, weighted BM25
("xbm25"; for German questions it equals the plain BM25). On the English dev questions that alone
reaches hit@5 0.55 (untranslated BM25: 0.31) and lifts the learned ranker from 0.674 to 0.70.
Line-level lexical coverage and an e5 vector of the translated bag of words were tried on top and
moved hit@5 by at most 0.02 (within noise; the second costs another e5 call), so they are not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

from knowledge.omosqa.data import Page
from knowledge.omosqa.vectors import MODELS, Vectors
from knowledge.text import analyze, analyze_many

TITLE_WEIGHT = 3  # the title is repeated this often in the BM25 document
HEAD_LINES = 3  # title plus this many lines form the "opening" vector of a page


def _bm25(documents: Sequence[Sequence[str]]) -> tuple[bm25s.BM25, set[str]]:
    index = bm25s.BM25(k1=1.2, b=0.75)
    index.index([list(d) or ["∅"] for d in documents], show_progress=False)
    return index, {t for d in documents for t in d}


def _bm25_scores(index: bm25s.BM25, vocabulary: set[str], terms: Sequence[str], n: int) -> np.ndarray:
    known = list(dict.fromkeys(t for t in terms if t in vocabulary))
    if not known:
        return np.zeros(n, dtype=np.float32)
    return np.asarray(index.get_scores(known), dtype=np.float32)


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[order] = np.arange(len(scores), dtype=np.float32)
    return ranks


RANK_FEATURES: tuple[str, ...] = (
    "bm25_norm",
    "bm25_rrank",
    "xbm25_norm",
    "xbm25_rrank",
    *(f"{m}_{name}" for m in MODELS for name in ("max", "max_rel", "top3", "title", "head", "head_rel", "rrank")),
)


@dataclass
class PageIndex:
    """All pages of one collection: every line's terms and vectors, and both BM25 indexes."""

    pages: list[Page]
    sentence_terms: list[list[list[str]]]
    sentence_vectors: list[dict[str, np.ndarray]]
    flat: dict[str, np.ndarray]  # model → (all lines, dim), pages one after another
    rows: np.ndarray  # page number of each flat line
    cols: np.ndarray  # line number of each flat line within its page
    head: dict[str, np.ndarray]  # model → (pages, dim)
    bm25: bm25s.BM25
    vocabulary: set[str]
    plain_bm25: bm25s.BM25
    plain_vocabulary: set[str]
    language: str = field(init=False, default="")  # the pages' one language ("" when mixed)

    @classmethod
    def build(cls, pages: Sequence[Page], vectors: Vectors) -> PageIndex:
        """Analyse and embed every line (cached by content hash), build both BM25 indexes."""
        pages = list(pages)
        flat = [s for p in pages for s in p.sentences]
        flat_terms = analyze_many(flat)
        flat_vecs = vectors.sentences(flat)
        heads = vectors.sentences(["\n".join(p.sentences[: HEAD_LINES + 1]) for p in pages])
        rows = np.concatenate([np.full(len(p.sentences), i, dtype=np.int32) for i, p in enumerate(pages)])
        cols = np.concatenate([np.arange(len(p.sentences), dtype=np.int32) for p in pages])
        terms: list[list[list[str]]] = []
        per_page_vecs: list[dict[str, np.ndarray]] = []
        start = 0
        for page in pages:
            n = len(page.sentences)
            terms.append(flat_terms[start : start + n])
            per_page_vecs.append({m: flat_vecs[m][start : start + n] for m in vectors.models})
            start += n
        title_terms = analyze_many([p.title for p in pages])
        weighted = [
            [t for _ in range(TITLE_WEIGHT) for t in tt] + [t for line in page_terms for t in line]
            for tt, page_terms in zip(title_terms, terms, strict=True)
        ]
        plain = [[t for line in page_terms for t in line] for page_terms in terms]
        bm25, vocabulary = _bm25(weighted)
        plain_bm25, plain_vocabulary = _bm25(plain)
        return cls(
            pages, terms, per_page_vecs, flat_vecs, rows, cols, heads, bm25, vocabulary, plain_bm25, plain_vocabulary
        )

    def plain_bm25_scores(self, question: str) -> np.ndarray:
        """Baseline: BM25 over lemmas of the page text, no title weight, no vectors."""
        return _bm25_scores(self.plain_bm25, self.plain_vocabulary, analyze(question), len(self.pages))

    def weighted_bm25(self, terms: dict[str, float]) -> np.ndarray:
        """BM25 of weighted terms (a translated question): each term's scores times its weight."""
        total = np.zeros(len(self.pages), dtype=np.float32)
        for term, weight in terms.items():
            if term in self.vocabulary and weight > 0:
                total += weight * np.asarray(self.bm25.get_scores([term]), dtype=np.float32)
        return total

    def lexical_features(self, terms: Sequence[str], translated: dict[str, float] | None = None) -> list[np.ndarray]:
        """The BM25 columns of RANK_FEATURES for one question, given its analysed terms.

        `translated`: the question's terms in the pages' language with weights (an English question
        through the learned lexicon); None for a question in the pages' own language, whose
        "translated" BM25 is then its plain BM25.
        """
        n = len(self.pages)
        bm = _bm25_scores(self.bm25, self.vocabulary, terms, n)
        xbm = bm if translated is None else self.weighted_bm25(translated)
        cols: list[np.ndarray] = []
        for scores in (bm, xbm):
            top = float(scores.max())
            cols += [scores / top if top > 0 else scores, 1.0 / (1.0 + _ranks(scores))]
        return cols

    def dense_features(self, model: str, qvec: np.ndarray) -> list[np.ndarray]:
        """The columns of RANK_FEATURES for one embedding model (one matrix-vector product, then per page).

        Kept apart from the lexical part so each signal can be computed and tested on its own.
        """
        n = len(self.pages)
        width = int(self.cols.max()) + 1
        # one matrix-vector product over all lines (~16k × 384: about a millisecond), then per page
        cos = np.full((n, width), -1.0, dtype=np.float32)
        cos[self.rows, self.cols] = self.flat[model] @ qvec
        best = cos.max(axis=1)
        k = min(3, cos.shape[1])
        top3 = np.sort(np.partition(cos, cos.shape[1] - k, axis=1)[:, -k:], axis=1)
        valid = top3 > -1.0
        top3_mean = (np.where(valid, top3, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)).astype(np.float32)
        head = self.head[model] @ qvec
        return [best, best - best.max(), top3_mean, cos[:, 0], head, head - head.max(), 1.0 / (1.0 + _ranks(best))]

    @staticmethod
    def stack(lexical: list[np.ndarray], dense: dict[str, list[np.ndarray]]) -> np.ndarray:
        """(pages × RANK_FEATURES) from the lexical columns and each model's dense columns."""
        return np.stack([*lexical, *(c for m in MODELS for c in dense[m])], axis=1).astype(np.float32)

    def features(
        self, terms: Sequence[str], qvecs: dict[str, np.ndarray], translated: dict[str, float] | None = None
    ) -> np.ndarray:
        """(pages × RANK_FEATURES) for one question, given its analysed terms and vectors."""
        return self.stack(
            self.lexical_features(terms, translated), {m: self.dense_features(m, qvecs[m]) for m in MODELS}
        )

    def __post_init__(self) -> None:
        self._positions = {p.page_id: i for i, p in enumerate(self.pages)}
        languages = {p.language for p in self.pages}
        self.language = languages.pop() if len(languages) == 1 else ""

    def position(self, page_id: int) -> int | None:
        """Index of a page in `pages` (None if not indexed)."""
        return self._positions.get(page_id)

    def rank_of(self, scores: np.ndarray, page_id: int) -> int | None:
        """1-based rank of a page under `scores`; ties count against us (None: page not indexed)."""
        i = self.position(page_id)
        return None if i is None else int((scores >= scores[i]).sum())
